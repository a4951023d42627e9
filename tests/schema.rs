//! The shipped AsyncAPI document (`docs/asyncapi.yaml`) is the one the registry generates:
//! a definition that changed without regenerating the document fails here. No broker, no
//! database.

use webhook_worker::entities::Registry;
use webhook_worker::schema::asyncapi;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.yaml");
const REGENERATE: &str = "cargo run -- schema > docs/asyncapi.yaml";

#[test]
fn the_shipped_asyncapi_document_is_the_generated_one() {
    let generated = asyncapi(&Registry::standard());
    let shipped = std::fs::read_to_string(SHIPPED)
        .unwrap_or_else(|e| panic!("cannot read {SHIPPED} ({e}); create it with `{REGENERATE}`"));
    if shipped == generated {
        return;
    }
    let first_difference = shipped
        .lines()
        .zip(generated.lines())
        .position(|(old, new)| old != new)
        .unwrap_or_else(|| shipped.lines().count().min(generated.lines().count()));
    let line = |text: &str| {
        text.lines()
            .nth(first_difference)
            .unwrap_or("<end of file>")
            .to_string()
    };
    panic!(
        "docs/asyncapi.yaml is out of date (first difference at line {}):\n  shipped:   {}\n  \
         generated: {}\nRegenerate it with `{REGENERATE}` and commit it.",
        first_difference + 1,
        line(&shipped),
        line(&generated),
    );
}
