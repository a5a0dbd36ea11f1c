//! Fuzzes `aaa::dictionary`: arbitrary text as a dictionary file whose
//! `$INCLUDE`s resolve to the same text (exercising cycle and depth limits).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tunnelnas::aaa::dictionary::Dictionary;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut read = |_: &Path| Ok(text.clone());
    if let Ok(dictionary) = Dictionary::load_with(Path::new("/fuzz/dictionary"), &mut read) {
        for attribute in dictionary.attributes() {
            let _ = dictionary.attribute(&attribute.name);
            let _ = dictionary.attribute_by_code(attribute.vendor, attribute.code);
        }
    }
});
