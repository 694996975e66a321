#![no_main]
// See rowstream::fuzzing::sql_placeholders.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rowstream::fuzzing::sql_placeholders(data));
