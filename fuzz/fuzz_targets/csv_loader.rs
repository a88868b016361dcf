//! Any bytes as a CSV file of any table: the loader may reject the file or rows,
//! never panic, and every row read is accepted or rejected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zhibao::load::source::Format;
use zhibao::model::Table;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let table = Table::ALL[data[0] as usize % Table::ALL.len()];
    if let Ok((read, rejected)) = zhibao::load::read_and_type(table, Format::Csv, data[1..].to_vec()) {
        assert!(rejected <= read);
    }
});
