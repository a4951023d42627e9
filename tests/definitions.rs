//! deploy/rabbitmq-definitions.json declares exactly what the worker declares with its
//! default settings, for every entity of the registry. Regenerate it with
//! `UPDATE_DEFINITIONS=1 cargo test --test definitions`.

use serde_json::{json, Value as Json};

use webhook_worker::config::Settings;
use webhook_worker::entities::Registry;
use webhook_worker::transport::topology::Topology;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/rabbitmq-definitions.json"
);

fn expected() -> Json {
    let settings = Settings::default();
    let topology = Topology::new("", settings.queue_type, settings.delivery_limit);
    let exchange = |name: String| {
        json!({"name": name, "vhost": "/", "type": "direct", "durable": true, "auto_delete": false,
               "internal": false, "arguments": {}})
    };
    let queue = |name: String, arguments: Json| json!({"name": name, "vhost": "/", "durable": true, "auto_delete": false, "arguments": arguments});
    let binding = |source: String, destination: String, key: &str| {
        json!({"source": source, "vhost": "/", "destination": destination, "destination_type": "queue",
               "routing_key": key, "arguments": {}})
    };
    let (mut queues, mut bindings) = (Vec::new(), Vec::new());
    for entity in Registry::standard().names() {
        let request = json!({"x-queue-type": "quorum", "x-delivery-limit": settings.delivery_limit,
                             "x-dead-letter-exchange": topology.dead_letter_exchange(),
                             "x-dead-letter-routing-key": entity});
        queues.push(queue(topology.request_queue(entity), request));
        queues.push(queue(
            topology.dead_letter_queue(entity),
            json!({"x-queue-type": "classic"}),
        ));
        queues.push(queue(
            topology.reply_queue(entity),
            json!({"x-queue-type": "classic"}),
        ));
        bindings.push(binding(
            topology.request_exchange(),
            topology.request_queue(entity),
            entity,
        ));
        bindings.push(binding(
            topology.dead_letter_exchange(),
            topology.dead_letter_queue(entity),
            entity,
        ));
        bindings.push(binding(
            topology.reply_exchange(),
            topology.reply_queue(entity),
            entity,
        ));
    }
    json!({
        "exchanges": [exchange(topology.request_exchange()), exchange(topology.dead_letter_exchange()),
                      exchange(topology.reply_exchange())],
        "queues": queues,
        "bindings": bindings,
    })
}

#[test]
fn the_shipped_rabbitmq_definitions_match_what_the_worker_declares() {
    let expected = expected();
    if std::env::var_os("UPDATE_DEFINITIONS").is_some() {
        let text = serde_json::to_string_pretty(&expected).expect("json") + "\n";
        std::fs::write(PATH, text).expect("write the definitions");
    }
    let shipped: Json =
        serde_json::from_str(&std::fs::read_to_string(PATH).expect("read")).expect("json");
    assert!(
        shipped == expected,
        "deploy/rabbitmq-definitions.json is stale: run UPDATE_DEFINITIONS=1 cargo test --test definitions"
    );
}

const ENTITIES_DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/entities.md");

/// docs/entities.md: every entity of the registry, generated from the definitions.
fn entities_doc() -> String {
    use webhook_worker::engine::definition::Op;
    let mut out = String::from(
        "# Entities\n\nGenerated from the definitions in `src/entities/` (regenerate with\n\
         `UPDATE_DEFINITIONS=1 cargo test --test definitions`). Every entity has the queue\n\
         `webhook.<entity>` and serves GET, PUT, LIST and DELETE.\n\n\
         | entity | table | code | child blocks | LIST filters | orderBy |\n|---|---|---|---|---|---|\n",
    );
    for def in Registry::standard().iter() {
        let filters: Vec<String> = def
            .filters
            .iter()
            .map(|f| {
                let op = match f.op {
                    Op::Equal => "equal",
                    Op::Contains => "contains",
                    Op::StartsWith => "startsWith",
                    Op::EndsWith => "endswith",
                    Op::GreaterOrEqual => ">=",
                    Op::Between => "between",
                    Op::NotClosedBefore => "notClosedBefore",
                    Op::LinkedThrough { .. } => "linked",
                };
                format!("`{}` ({op})", f.name)
            })
            .collect();
        let sorts: Vec<String> = def.sorts.iter().map(|s| format!("`{}`", s.name)).collect();
        let children: Vec<String> = def
            .children
            .iter()
            .map(|c| format!("`{}`", c.block))
            .collect();
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} | {} | {} |\n",
            def.name,
            def.table,
            def.code,
            children.join(", "),
            filters.join(", "),
            sorts.join(", ")
        ));
    }
    out
}

#[test]
fn the_entities_doc_lists_every_registered_entity() {
    let expected = entities_doc();
    if std::env::var_os("UPDATE_DEFINITIONS").is_some() {
        std::fs::write(ENTITIES_DOC, &expected).expect("write docs/entities.md");
    }
    let shipped = std::fs::read_to_string(ENTITIES_DOC).unwrap_or_default();
    assert!(
        shipped == expected,
        "docs/entities.md is stale: run UPDATE_DEFINITIONS=1 cargo test --test definitions"
    );
}
