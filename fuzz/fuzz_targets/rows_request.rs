#![no_main]
// See rowstream::fuzzing::rows_request.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rowstream::fuzzing::rows_request(data));
