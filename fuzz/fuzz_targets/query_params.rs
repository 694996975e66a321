#![no_main]
// See rowstream::fuzzing::query_params.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rowstream::fuzzing::query_params(data));
