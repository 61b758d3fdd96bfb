//! docs/schema.md must agree with the Arrow schema (every column with its type, nothing
//! else) and with the closed vocabularies (every value, nothing else).

use std::fs;
use std::path::PathBuf;

use stsscan::output::Table;
use stsscan::output::schema::{DESCRIPTION_KEY, type_name};
use stsscan::output::vocab::VOCABULARIES;

fn doc() -> String {
    fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/schema.md")).unwrap()
}

/// `| `name` | `type` | ...` rows of the section whose heading is `## Table `<table>``.
fn doc_columns(doc: &str, table: &str) -> Vec<(String, String)> {
    let heading = format!("## Table `{table}`");
    let mut in_section = false;
    let mut out = Vec::new();
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_section = line.trim() == heading;
            continue;
        }
        if !in_section {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 && cells[1].starts_with('`') {
            out.push((
                cells[1].trim_matches('`').to_string(),
                cells[2].trim_matches('`').to_string(),
            ));
        }
    }
    out
}

fn expected_columns(table: Table) -> Vec<(String, String)> {
    table
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let null = if f.is_nullable() { "?" } else { "" };
            (
                f.name().clone(),
                format!("{}{null}", type_name(f.data_type())),
            )
        })
        .collect()
}

#[test]
fn docs_schema_md_lists_every_column_with_its_type_and_nothing_else() {
    let doc = doc();
    for table in [Table::Domains, Table::Mx] {
        let documented = doc_columns(&doc, table.as_str());
        let expected = expected_columns(table);
        let table_md: String = expected
            .iter()
            .map(|(n, t)| {
                let desc = table
                    .schema()
                    .field_with_name(n)
                    .map(|f| f.metadata()[DESCRIPTION_KEY].clone())
                    .unwrap_or_default();
                format!("| `{n}` | `{t}` | {desc} |\n")
            })
            .collect();
        assert_eq!(
            documented,
            expected,
            "docs/schema.md, table {}, disagrees with the Arrow schema; expected rows:\n{table_md}",
            table.as_str()
        );
    }
}

#[test]
fn docs_schema_md_documents_every_vocabulary_value_exactly() {
    let doc = doc();
    for v in VOCABULARIES {
        let heading = format!("### {}", v.name);
        let mut in_section = false;
        let mut documented = Vec::new();
        for line in doc.lines() {
            if line.starts_with("#") {
                in_section = line.trim() == heading;
                continue;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if in_section && cells.len() >= 3 && cells[1].starts_with('`') {
                documented.push(cells[1].trim_matches('`').to_string());
            }
        }
        let expected: Vec<String> = v.values.iter().map(|s| s.to_string()).collect();
        assert_eq!(documented, expected, "docs/schema.md section {heading:?}");
        for col in v.columns {
            assert!(
                doc.contains(&format!("`{col}`")),
                "{heading} should name `{col}`"
            );
        }
    }
}
