#![no_main]
// See rowstream::fuzzing::after_token.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rowstream::fuzzing::after_token(data));
