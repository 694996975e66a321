#![no_main]
// See rowstream::fuzzing::ndjson_frames.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rowstream::fuzzing::ndjson_frames(data));
