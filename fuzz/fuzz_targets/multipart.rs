//! The multipart form parser on arbitrary bytes (the callers of the relayed OpenAI file
//! endpoints): never panics, and a form it accepts keeps every byte but the replaced field.
#![no_main]

use bytes::Bytes;
use gateway_core::multipart::Form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let Ok(form) = Form::parse(body.clone(), "multipart/form-data; boundary=b") else { return };
    let _ = form.has_file("file");
    let Some(model) = form.text("model").map(str::to_owned) else { return };
    let renamed = form.with_text("model", "upstream-model");
    assert_eq!(renamed.len() + model.len(), body.len() + "upstream-model".len());
    let again = Form::parse(renamed, "multipart/form-data; boundary=b");
    if let Ok(again) = again {
        assert_eq!(again.text("model"), Some("upstream-model"));
    }
});
