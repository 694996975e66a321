#![no_main]
// See rowstream::fuzzing::copy_binary.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rowstream::fuzzing::copy_binary(data));
