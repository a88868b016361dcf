//! Any bytes as an Excel workbook of any table: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhibao::load::source::Format;
use zhibao::model::Table;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let table = Table::ALL[data[0] as usize % Table::ALL.len()];
    if let Ok((read, rejected)) = zhibao::load::read_and_type(table, Format::Excel, data[1..].to_vec()) {
        assert!(rejected <= read);
    }
});
