//! schema: the AsyncAPI 3.0 document of the message contract (SPEC sections 1 to 5), built
//! from the entity registry, printed as YAML by `webhook-worker schema` and shipped as
//! `docs/asyncapi.yaml` (`tests/schema.rs` keeps the two equal).
//!
//! It must not know any entity by name: every channel, operation, message and schema comes
//! from the definitions, so a new entity appears here by itself. Queue and exchange names
//! come from `transport::topology` (default settings, no prefix), header names from
//! `pipeline` and `transport::dead_letter`, error codes from `engine::error`. No I/O here.
//! The YAML emitter at the end prints a `serde_json::Value` as block YAML with the keys in
//! insertion order (serde_json's `preserve_order`), so the document is deterministic.
//!
//! Shape: per entity `E`, three channels (`webhook.E` requests, `webhook.E.reply` default
//! replies, `webhook.E.dlq` dead letters), one `receive` operation per verb with its
//! `reply`, one `send` operation for dead letters; per verb a request and a reply message;
//! component schemas `E` (the block as replied), `E.input` (the block as a PUT sends it)
//! and, where the entity has them, `E.related`, `E.indicators`, `E.partner`.

use serde_json::{json, Map, Value as Json};

use crate::config::{Connections, Settings};
use crate::engine::definition::{CreateDefault, EntityDef, Field, Filter, Op, Reference, Type};
use crate::engine::error::ErrorCode;
use crate::entities::Registry;
use crate::pipeline::{HEADER_ENTITY, HEADER_STATUS, HEADER_VERB, HEADER_WEBHOOK_VERSION};
use crate::reply::{STATUS_ERROR, STATUS_OK};
use crate::request::{Verb, DEFAULT_LIMIT, MAX_LIMIT};
use crate::transport::dead_letter::{
    HEADER_DEAD_LETTERED_AT, HEADER_ERROR_CODE, HEADER_ERROR_DETAILS, HEADER_ERROR_MESSAGE,
    HEADER_ORIGINAL_QUEUE, HEADER_REPLAY_COUNT,
};
use crate::transport::topology::{QueueKind, Topology, PARTITION_HEADER};

const ASYNCAPI_VERSION: &str = "3.0.0";
/// The AMQP bindings of AsyncAPI 3.0.
const AMQP_BINDING_VERSION: &str = "0.3.0";
const CONTENT_TYPE: &str = "application/json";
/// SPEC section 2's verbs, in its order.
const VERBS: [Verb; 4] = [Verb::Get, Verb::List, Verb::Put, Verb::Delete];
/// The reply header `verb` of a request whose verb is missing or unknown (pipeline).
const VERB_UNKNOWN: &str = "UNKNOWN";
/// `Text(65535)` (engine::value).
const TEXT_MAX_LENGTH: u32 = 65_535;
/// SPEC 11.9: the key of the dynamic fields' pairs form, and the prefix of the other form.
const DYNAMIC_FIELDS_KEY: &str = "dynamicFields";
const DYNAMIC_FIELD_PREFIX: &str = "v_";
/// Field value patterns. Each admits `""`, which stands for null (SPEC section 3).
const INT_PATTERN: &str = r"^(-?[0-9]+)?$";
const DOUBLE_PATTERN: &str = r"^(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)?$";
/// Date and DateTime: what replies carry and what requests may send (SPEC section 3). Not
/// JSON Schema's `format: date-time` (RFC 3339 wants a `T` or a zone, which these lack).
const DATE_PATTERN: &str = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?)?$";

/// SPEC section 4, in its order.
const ERROR_CODES: [ErrorCode; 9] = [
    ErrorCode::MalformedMessage,
    ErrorCode::InvalidRequest,
    ErrorCode::ValidationFailed,
    ErrorCode::InvalidForeignKey,
    ErrorCode::WebhookVersionMismatch,
    ErrorCode::ForbiddenOperation,
    ErrorCode::Conflict,
    ErrorCode::NotFound,
    ErrorCode::Internal,
];

/// [`ERROR_CODES`] is whole and in order, checked at compile time: the match has no `_`
/// arm, so a new `ErrorCode` variant does not build until it is placed in the list.
const _: () = {
    const fn position(code: ErrorCode) -> usize {
        match code {
            ErrorCode::MalformedMessage => 0,
            ErrorCode::InvalidRequest => 1,
            ErrorCode::ValidationFailed => 2,
            ErrorCode::InvalidForeignKey => 3,
            ErrorCode::WebhookVersionMismatch => 4,
            ErrorCode::ForbiddenOperation => 5,
            ErrorCode::Conflict => 6,
            ErrorCode::NotFound => 7,
            ErrorCode::Internal => 8,
        }
    }
    let mut i = 0;
    while i < ERROR_CODES.len() {
        assert!(position(ERROR_CODES[i]) == i, "ERROR_CODES is out of order");
        i += 1;
    }
};

/// The AsyncAPI document of `registry`'s message contract, as YAML text.
pub fn asyncapi(registry: &Registry) -> String {
    to_yaml(&document(registry))
}

/// The AsyncAPI document of `registry`'s message contract, as a JSON value.
pub fn document(registry: &Registry) -> Json {
    let settings = Settings::default();
    let topology = Topology::new("", settings.queue_type, settings.delivery_limit);
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let mut schemas = shared_schemas();
    for def in registry.iter() {
        let names = Names::new(&topology, def.name);
        channels.insert(names.requests.clone(), request_channel(&topology, def));
        channels.insert(names.replies.clone(), reply_channel(&topology, def));
        channels.insert(
            names.dead_letters.clone(),
            dead_letter_channel(&topology, def),
        );
        for verb in VERBS {
            let id = format!("{}.{}", def.name, verb.as_str());
            operations.insert(id, verb_operation(def, &names, verb));
            messages.insert(message_id(def, verb, "request"), request_message(def, verb));
            messages.insert(message_id(def, verb, "reply"), reply_message(def, verb));
        }
        let id = dead_letter_id(def);
        operations.insert(id.clone(), dead_letter_operation(def, &names));
        messages.insert(id, dead_letter_message(def));
        entity_schemas(registry, def, &mut schemas);
    }
    json!({
        "asyncapi": ASYNCAPI_VERSION,
        "info": info(&topology),
        "defaultContentType": CONTENT_TYPE,
        "servers": servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "messageTraits": message_traits(&topology),
        },
    })
}

/// The channel ids of one entity: its queue names (SPEC section 1, no prefix).
struct Names {
    requests: String,
    replies: String,
    dead_letters: String,
}

impl Names {
    fn new(topology: &Topology, entity: &str) -> Names {
        Names {
            requests: topology.request_queue(entity),
            replies: topology.reply_queue(entity),
            dead_letters: topology.dead_letter_queue(entity),
        }
    }
}

fn message_id(def: &EntityDef, verb: Verb, direction: &str) -> String {
    format!("{}.{}.{direction}", def.name, verb.as_str())
}

fn dead_letter_id(def: &EntityDef) -> String {
    format!("{}.deadLetter", def.name)
}

/// A Reference Object: `{"$ref": pointer}`.
fn reference(pointer: String) -> Json {
    json!({ "$ref": pointer })
}

fn schema_ref(name: &str) -> Json {
    reference(format!("#/components/schemas/{name}"))
}

fn message_ref(id: &str) -> Json {
    reference(format!("#/components/messages/{id}"))
}

fn trait_ref(name: &str) -> Json {
    reference(format!("#/components/messageTraits/{name}"))
}

fn info(topology: &Topology) -> Json {
    let description = format!(
        "The messages of webhook-worker (SPEC sections 1 to 5), generated from its entity \
         registry by `webhook-worker schema`.\n\n\
         An ERP publishes a request to exchange `{exchange}` with routing key = the entity \
         name (or straight to queue `{exchange}.<entity>`). The worker applies it to \
         PostgreSQL in one transaction and publishes a reply to the request's `reply_to` \
         (default exchange, routing key = `reply_to`; RabbitMQ's direct reply-to works), or, \
         without `reply_to`, to exchange `{reply}` with key = entity, that is to queue \
         `{exchange}.<entity>.reply`. A request that cannot succeed as sent is answered with \
         an error reply and also parked in `{exchange}.<entity>.dlq` (every error code but \
         NOT_FOUND).\n\n\
         Names are shown without `TOPOLOGY_PREFIX`, which is prepended as given to every \
         exchange and queue name. Request properties: `message_id` (idempotency key of PUT \
         and DELETE), `correlation_id` (copied onto the reply, else the reply carries \
         `message_id`), `reply_to`, `content_type` (`application/json` or absent). Replies \
         are persistent and carry `correlation_id`.\n\n\
         Values: every scalar of a block is a JSON string and `\"\"` stands for null; Bool is \
         `\"0\"`/`\"1\"`, Date `YYYY-MM-DD`, DateTime `YYYY-MM-DD HH:MM:SS`. Foreign keys \
         carry the referenced code (a generictype's `originalCode`).",
        exchange = topology.request_exchange(),
        reply = topology.reply_exchange(),
    );
    json!({
        "title": "webhook-worker",
        "version": env!("CARGO_PKG_VERSION"),
        "description": description,
    })
}

fn servers() -> Json {
    let url = Connections::default().amqp_url;
    // `amqp://user:password@host:port/vhost`: the host and port only, never credentials.
    let host = url
        .rsplit('@')
        .next()
        .and_then(|rest| rest.split('/').next());
    json!({
        "rabbitmq": {
            "host": host.unwrap_or_default(),
            "protocol": "amqp",
            "protocolVersion": "0.9.1",
            "description": "The broker of `AMQP_URL` (default: the local broker, vhost `/`).",
        }
    })
}

// ---------------------------------------------------------------------------------------
// Channels and operations (SPEC sections 1 and 5)

/// `webhook.E`: the requests of one entity.
fn request_channel(topology: &Topology, def: &EntityDef) -> Json {
    let mut arguments = Map::new();
    arguments.insert("x-queue-type".into(), json!(topology.kind().as_str()));
    if topology.kind() == QueueKind::Quorum {
        arguments.insert("x-delivery-limit".into(), json!(topology.delivery_limit()));
    }
    arguments.insert(
        "x-dead-letter-exchange".into(),
        json!(topology.dead_letter_exchange()),
    );
    arguments.insert("x-dead-letter-routing-key".into(), json!(def.name));
    let description = format!(
        "Requests for `{name}`: publish to exchange `{exchange}` with routing key `{name}`. \
         `QUEUE_TYPE` and `DELIVERY_LIMIT` set the queue's arguments (defaults shown).",
        name = def.name,
        exchange = topology.request_exchange(),
    );
    let messages = verb_messages(def, "request");
    let queue = topology.request_queue(def.name);
    let binding = queue_binding(&queue, &topology.request_exchange(), def.name, arguments);
    channel(
        queue,
        format!("{} requests", def.name),
        description,
        messages,
        binding,
    )
}

/// `webhook.E.reply`: where replies go when the request has no `reply_to`.
fn reply_channel(topology: &Topology, def: &EntityDef) -> Json {
    let description = format!(
        "Replies to `{name}` requests sent without `reply_to`, published to exchange \
         `{exchange}` with routing key `{name}`. A request with `reply_to` gets its reply \
         there instead (default exchange, routing key = `reply_to`).",
        name = def.name,
        exchange = topology.reply_exchange(),
    );
    let messages = verb_messages(def, "reply");
    let queue = topology.reply_queue(def.name);
    let binding = queue_binding(&queue, &topology.reply_exchange(), def.name, classic());
    channel(
        queue,
        format!("{} replies", def.name),
        description,
        messages,
        binding,
    )
}

/// `webhook.E.dlq`: the dead letters of one entity.
fn dead_letter_channel(topology: &Topology, def: &EntityDef) -> Json {
    let description = format!(
        "Failed `{name}` requests, published with confirm to exchange `{exchange}` with \
         routing key `{name}` before the original is acked. Operators read and replay them \
         with `webhook-worker dlq list|show|replay|purge {name}`.",
        name = def.name,
        exchange = topology.dead_letter_exchange(),
    );
    let messages = json!({ "deadLetter": message_ref(&dead_letter_id(def)) });
    let queue = topology.dead_letter_queue(def.name);
    let exchange = topology.dead_letter_exchange();
    let binding = queue_binding(&queue, &exchange, def.name, classic());
    channel(
        queue,
        format!("{} dead letters", def.name),
        description,
        messages,
        binding,
    )
}

fn channel(
    address: String,
    title: String,
    description: String,
    messages: Json,
    binding: Json,
) -> Json {
    json!({
        "address": address,
        "title": title,
        "description": description,
        "messages": messages,
        "bindings": { "amqp": binding },
    })
}

/// The channel's messages, one per verb, keyed by verb.
fn verb_messages(def: &EntityDef, direction: &str) -> Json {
    let messages: Map<String, Json> = VERBS
        .iter()
        .map(|&verb| {
            (
                verb.as_str().into(),
                message_ref(&message_id(def, verb, direction)),
            )
        })
        .collect();
    Json::Object(messages)
}

fn classic() -> Map<String, Json> {
    let mut arguments = Map::new();
    arguments.insert("x-queue-type".into(), json!("classic"));
    arguments
}

/// The AMQP binding of a durable queue. Its exchange binding and arguments go in
/// extensions: the binding object has no field for them.
fn queue_binding(queue: &str, exchange: &str, key: &str, arguments: Map<String, Json>) -> Json {
    json!({
        "is": "queue",
        "queue": {
            "name": queue, "durable": true, "exclusive": false, "autoDelete": false, "vhost": "/",
        },
        "x-bound-to": {
            "exchange": exchange, "type": "direct", "durable": true, "routingKey": key,
        },
        "x-arguments": arguments,
        "bindingVersion": AMQP_BINDING_VERSION,
    })
}

/// The worker receives a request of `verb` and replies (AsyncAPI 3.0 request/reply).
fn verb_operation(def: &EntityDef, names: &Names, verb: Verb) -> Json {
    let verb = verb.as_str();
    let summary = match verb {
        "GET" => format!("Read one {} by code.", def.name),
        "LIST" => format!("List {} rows, filtered, ordered and paged.", def.name),
        "PUT" => format!("Create or update one {} and its child blocks.", def.name),
        _ => format!("Delete one {} by code, with what belongs to it.", def.name),
    };
    json!({
        "action": "receive",
        "channel": reference(format!("#/channels/{}", names.requests)),
        "title": format!("{} {verb}", def.name),
        "summary": summary,
        "messages": [reference(format!("#/channels/{}/messages/{verb}", names.requests))],
        "reply": {
            "channel": reference(format!("#/channels/{}", names.replies)),
            "messages": [reference(format!("#/channels/{}/messages/{verb}", names.replies))],
        },
        "bindings": { "amqp": { "ack": true, "bindingVersion": AMQP_BINDING_VERSION } },
    })
}

/// The worker parks a failed request in the entity's DLQ.
fn dead_letter_operation(def: &EntityDef, names: &Names) -> Json {
    let queue = &names.dead_letters;
    json!({
        "action": "send",
        "channel": reference(format!("#/channels/{queue}")),
        "title": format!("{} dead letter", def.name),
        "summary": format!("Park a failed {} request with the reason in its headers.", def.name),
        "messages": [reference(format!("#/channels/{queue}/messages/deadLetter"))],
        "bindings": { "amqp": { "deliveryMode": 2, "bindingVersion": AMQP_BINDING_VERSION } },
    })
}

// ---------------------------------------------------------------------------------------
// Messages

fn request_message(def: &EntityDef, verb: Verb) -> Json {
    let payload = match verb {
        Verb::Get => get_request(def),
        Verb::List => list_request(def),
        Verb::Put => put_request(def),
        Verb::Delete => delete_request(def),
    };
    message(def, verb, "request", payload)
}

fn reply_message(def: &EntityDef, verb: Verb) -> Json {
    let ok = match verb {
        Verb::Get => get_reply(def),
        Verb::List => list_reply(def),
        Verb::Put => put_reply(def),
        Verb::Delete => delete_reply(def),
    };
    message(
        def,
        verb,
        "reply",
        json!({ "oneOf": [ok, schema_ref("ErrorReply")] }),
    )
}

fn message(def: &EntityDef, verb: Verb, direction: &str, payload: Json) -> Json {
    json!({
        "name": message_id(def, verb, direction),
        "title": format!("{} {} {direction}", def.name, verb.as_str()),
        "contentType": CONTENT_TYPE,
        "traits": [trait_ref(direction)],
        "payload": payload,
    })
}

fn dead_letter_message(def: &EntityDef) -> Json {
    json!({
        "name": dead_letter_id(def),
        "title": format!("{} dead letter", def.name),
        "summary": "The request as it was received (body, message_id, correlation_id, \
                    reply_to, headers), plus the webhook-* headers.",
        "contentType": CONTENT_TYPE,
        "traits": [trait_ref("deadLetter")],
        "payload": {
            "description": format!(
                "The request body byte for byte: one of the `{}` request payloads, or, for \
                 MALFORMED_MESSAGE, whatever was sent.",
                def.name
            ),
        },
    })
}

// ---------------------------------------------------------------------------------------
// Request payloads (SPEC section 2)

fn verb_property(verb: Verb) -> Json {
    json!({ "type": "string", "const": verb.as_str(), "description": "Case-insensitive." })
}

/// `settings` of GET and LIST: those the entity reads.
fn settings_property(def: &EntityDef) -> Json {
    let mut properties = Map::new();
    let on = |what: &str| json!({ "description": format!("\"1\", 1 or true: add `{what}`.") });
    if def.indicators.is_some() {
        properties.insert("getIndicators".into(), on("indicators"));
    }
    if def.partners.is_some() {
        properties.insert("getPartners".into(), on("partners"));
    }
    json!({
        "type": "object",
        "description": "Strings or numbers, \"1\" meaning on; other keys are ignored.",
        "properties": properties,
    })
}

fn code_property(def: &EntityDef) -> Json {
    let description = format!("The `{}` of the row.", def.code);
    json!({ "type": "string", "minLength": 1, "description": description })
}

fn get_request(def: &EntityDef) -> Json {
    json!({
        "type": "object",
        "required": ["verb", "code"],
        "properties": {
            "verb": verb_property(Verb::Get),
            "code": code_property(def),
            "resultType": schema_ref("ResultType"),
            "settings": settings_property(def),
        },
    })
}

fn delete_request(def: &EntityDef) -> Json {
    json!({
        "type": "object",
        "required": ["verb", "code"],
        "properties": { "verb": verb_property(Verb::Delete), "code": code_property(def) },
    })
}

fn list_request(def: &EntityDef) -> Json {
    let filters: Map<String, Json> = def
        .filters
        .iter()
        .map(|f| {
            let description = filter_description(def, f);
            (
                f.name.into(),
                json!({ "type": "string", "description": description }),
            )
        })
        .collect();
    let mut order_by = json!({ "type": "string" });
    if def.sorts.is_empty() {
        order_by["description"] = json!("This entity has no orderBy value: rows come by code.");
    } else {
        let sorts: Vec<String> = def
            .sorts
            .iter()
            .map(|s| {
                let direction = if s.descending {
                    "descending"
                } else {
                    "ascending"
                };
                format!("{}: `{}` {direction}", s.name, s.field)
            })
            .collect();
        order_by["description"] = json!(format!(
            "{}. Without orderBy, and between ties: by code ascending.",
            sorts.join("; ")
        ));
        order_by["enum"] = def.sorts.iter().map(|s| json!(s.name)).collect();
    }
    json!({
        "type": "object",
        "required": ["verb"],
        "properties": {
            "verb": verb_property(Verb::List),
            "resultType": schema_ref("ResultType"),
            "filters": {
                "type": "object",
                "description": "Combined with AND; names are case-insensitive, values strings \
                                or numbers. An unknown name is INVALID_REQUEST.",
                "properties": filters,
            },
            "orderBy": order_by,
            "limit": {
                "type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
            },
            "offset": { "type": "integer", "minimum": 0, "default": 0 },
            "settings": settings_property(def),
        },
    })
}

fn filter_description(def: &EntityDef, filter: &Filter) -> String {
    let field = filter.field;
    let generictype = matches!(
        def.field(field).and_then(|f| f.reference),
        Some(Reference::GenericType(_))
    );
    match filter.op {
        Op::Equal if generictype => format!("`{field}` equals the value (original or full code)."),
        Op::Equal => format!("`{field}` equals the value."),
        Op::Contains => format!("`{field}` contains the value (case-insensitive)."),
        Op::StartsWith => format!("`{field}` starts with the value (case-insensitive)."),
        Op::EndsWith => format!("`{field}` ends with the value (case-insensitive)."),
        Op::GreaterOrEqual => format!("`{field}` is greater than or equal to the value."),
        Op::Between => format!("`{field}` between v1 and v2, inclusive: \"v1|v2\"."),
        Op::NotClosedBefore => format!("`{field}` is empty or after the value."),
        Op::LinkedThrough { table, column, .. } => {
            format!("Rows linked to the value through {table}.{column}.")
        }
    }
}

fn put_request(def: &EntityDef) -> Json {
    let mut properties = Map::new();
    properties.insert("verb".into(), verb_property(Verb::Put));
    properties.insert(def.block.into(), schema_ref(&input_schema_name(def.name)));
    for child in &def.children {
        let item = schema_ref(&input_schema_name(child.entity));
        let mut description = format!(
            "Child rows, upserted by their own code; `{}` defaults to the parent's code.",
            child.parent_field
        );
        if child.generate_code {
            description.push_str(" A row without a code gets `<parent code>-<n>`.");
        }
        let one_of = json!([{ "type": "array", "items": item.clone() }, item]);
        properties.insert(
            child.block.into(),
            json!({ "description": description, "oneOf": one_of }),
        );
    }
    for companion in &def.companions {
        let versions: Vec<String> = companion.required_in.iter().map(u8::to_string).collect();
        let mut description = format!(
            "Written first, by the `{}` definition. Required when webhookVersion is {}, absent \
             otherwise: WEBHOOK_VERSION_MISMATCH either way.",
            companion.entity,
            versions.join(" or ")
        );
        for (field, value) in &companion.fixed {
            description.push_str(&format!(" Always written with `{field}` = \"{value}\"."));
        }
        let block = schema_ref(&input_schema_name(companion.entity));
        properties.insert(
            companion.block.into(),
            json!({ "description": description, "allOf": [block] }),
        );
    }
    for (block, reason) in &def.forbidden_blocks {
        let description = format!("FORBIDDEN_OPERATION: {reason}.");
        properties.insert(
            (*block).into(),
            json!({ "description": description, "not": {} }),
        );
    }
    let code = format!(
        "Optional; when present it must equal the block's `{}`.",
        def.code
    );
    properties.insert(
        "code".into(),
        json!({ "type": "string", "description": code }),
    );
    let ignored =
        json!({ "description": "Accepted and ignored: a PUT replies with GET extended." });
    properties.insert("resultType".into(), ignored.clone());
    properties.insert("settings".into(), ignored);
    json!({
        "type": "object",
        "description": "Any other top-level key is VALIDATION_FAILED (unknown block).",
        "required": ["verb", def.block],
        "properties": properties,
    })
}

// ---------------------------------------------------------------------------------------
// Reply payloads (SPEC section 3)

/// An ok reply of `verb`: `status`, `entity`, `verb`, then `rest`, all required.
fn ok_reply(def: &EntityDef, verb: Verb, rest: Map<String, Json>) -> Json {
    let mut properties = fields([
        ("status", json!({ "type": "string", "const": STATUS_OK })),
        ("entity", json!({ "type": "string", "const": def.name })),
        ("verb", json!({ "type": "string", "const": verb.as_str() })),
    ]);
    properties.extend(rest);
    let required: Vec<String> = properties.keys().cloned().collect();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// A map of `pairs`, in their order.
fn fields<const N: usize>(pairs: [(&str, Json); N]) -> Map<String, Json> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The parts of a GET result beside the block, shared with LIST items: those the entity has.
fn result_extras(def: &EntityDef) -> Map<String, Json> {
    let mut extras = Map::new();
    let list = |schema: String, description: &str, one: bool| {
        let mut list =
            json!({ "type": "array", "description": description, "items": schema_ref(&schema) });
        if one {
            list["maxItems"] = json!(1);
        }
        list
    };
    if !def.related.is_empty() {
        let description = "extendedRelated only: one object holding every related block.";
        extras.insert(
            "related".into(),
            list(format!("{}.related", def.name), description, true),
        );
    }
    if def.partners.is_some() {
        let description = "With settings.getPartners.";
        extras.insert(
            "partners".into(),
            list(format!("{}.partner", def.name), description, false),
        );
    }
    if def.indicators.is_some() {
        let description = "With settings.getIndicators: one block, its keys \"\" when there \
                           is no extension row.";
        extras.insert(
            "indicators".into(),
            list(format!("{}.indicators", def.name), description, true),
        );
    }
    extras
}

fn get_reply(def: &EntityDef) -> Json {
    let mut result = Map::new();
    result.insert(def.block.into(), schema_ref(def.name));
    result.extend(result_extras(def));
    let result = json!({ "type": "object", "required": [def.block], "properties": result });
    ok_reply(
        def,
        Verb::Get,
        fields([("code", json!({ "type": "string" })), ("result", result)]),
    )
}

fn list_reply(def: &EntityDef) -> Json {
    let extras = result_extras(def);
    let item = if extras.is_empty() {
        schema_ref(def.name)
    } else {
        json!({ "allOf": [schema_ref(def.name), { "type": "object", "properties": extras }] })
    };
    let items = json!({
        "type": "array",
        "description": "Each item is the block's fields (per resultType), with `related`, \
                        `indicators` and `partners` appended when asked.",
        "items": item,
    });
    let result =
        json!({ "type": "object", "required": [def.block], "properties": { def.block: items } });
    let count =
        |description: &str| json!({ "type": "integer", "minimum": 0, "description": description });
    ok_reply(
        def,
        Verb::List,
        fields([
            ("count", count("Items in this page.")),
            ("total", count("Rows matching the filters.")),
            ("limit", json!({ "type": "integer", "minimum": 0 })),
            ("offset", json!({ "type": "integer", "minimum": 0 })),
            ("hasMore", json!({ "type": "boolean" })),
            ("result", result),
        ]),
    )
}

fn put_reply(def: &EntityDef) -> Json {
    let result = json!({
        "type": "object",
        "description": "The stored record shaped as GET extended.",
        "required": [def.block],
        "properties": { def.block: schema_ref(def.name) },
    });
    let created = json!({ "type": "boolean", "description": "true when the code was new." });
    ok_reply(
        def,
        Verb::Put,
        fields([
            ("code", json!({ "type": "string" })),
            ("created", created),
            ("result", result),
        ]),
    )
}

fn delete_reply(def: &EntityDef) -> Json {
    let count = json!({ "type": "integer", "minimum": 0 });
    let mut counts = Map::new();
    counts.insert(def.block.into(), count.clone());
    for child in &def.children {
        counts.insert(child.block.into(), count.clone());
    }
    let deleted = json!({
        "type": "object",
        "description": "Rows removed, by block; rows removed by a cascade outside the blocks \
                        count under their entity names.",
        "properties": counts,
        "additionalProperties": count,
    });
    ok_reply(
        def,
        Verb::Delete,
        fields([("code", json!({ "type": "string" })), ("deleted", deleted)]),
    )
}

// ---------------------------------------------------------------------------------------
// Schemas

/// The schemas no entity owns: the result type and the error reply (SPEC sections 3, 4).
fn shared_schemas() -> Map<String, Json> {
    let codes: Vec<&str> = ERROR_CODES.iter().map(|c| c.as_str()).collect();
    let kept: Vec<&str> = ERROR_CODES
        .iter()
        .filter(|c| !c.dead_letters())
        .map(|c| c.as_str())
        .collect();
    let schemas = json!({
        "ResultType": {
            "type": "string",
            "enum": ["simple", "extended", "extendedRelated"],
            "default": "simple",
            "description": "Case-insensitive. simple: the seed's simple keys; extended: every \
                            field; extendedRelated: extended plus `related`.",
        },
        "ErrorReply": {
            "type": "object",
            "required": ["status", "entity", "verb", "error"],
            "properties": {
                "status": { "type": "string", "const": STATUS_ERROR },
                "entity": { "type": "string" },
                "verb": { "type": "string", "enum": verb_labels() },
                "code": {
                    "type": "string",
                    "description": "When the request named one (GET and DELETE's code, the \
                                    code of PUT's block).",
                },
                "error": schema_ref("Error"),
            },
        },
        "Error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": codes,
                    "description": format!(
                        "SPEC section 4. Every code but {} is also dead-lettered.",
                        kept.join(", ")
                    ),
                },
                "message": { "type": "string" },
                "details": {
                    "type": "array",
                    "description": "Every offending field of the request, not just the first.",
                    "items": schema_ref("ErrorDetail"),
                },
            },
        },
        "ErrorDetail": {
            "type": "object",
            "required": ["block", "field", "value"],
            "properties": {
                "block": { "type": "string" },
                "index": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Position in a child block's array, when it applies.",
                },
                "field": { "type": "string" },
                "value": { "description": "The value as sent (any JSON), or the code concerned." },
                "message": { "type": "string" },
                "references": {
                    "type": "string",
                    "description": "Foreign keys and conflicts: the `table.column` the value \
                                    must name.",
                },
            },
        },
    });
    match schemas {
        Json::Object(map) => map,
        _ => Map::new(),
    }
}

fn verb_labels() -> Vec<&'static str> {
    let mut labels: Vec<&str> = VERBS.iter().map(|v| v.as_str()).collect();
    labels.push(VERB_UNKNOWN);
    labels
}

fn input_schema_name(entity: &str) -> String {
    format!("{entity}.input")
}

/// The schemas of one entity: its block, the block as a PUT sends it, and those parts of a
/// GET result that it has.
fn entity_schemas(registry: &Registry, def: &EntityDef, schemas: &mut Map<String, Json>) {
    schemas.insert(def.name.into(), block_schema(registry, def));
    schemas.insert(input_schema_name(def.name), input_schema(def));
    if !def.related.is_empty() {
        schemas.insert(
            format!("{}.related", def.name),
            related_schema(registry, def),
        );
    }
    if let Some(schema) = indicators_schema(registry, def) {
        schemas.insert(format!("{}.indicators", def.name), schema);
    }
    if let Some(schema) = partner_schema(registry, def) {
        schemas.insert(format!("{}.partner", def.name), schema);
    }
}

/// The entity block as replies carry it: GET extended (simple is a subset, SPEC 10).
fn block_schema(registry: &Registry, def: &EntityDef) -> Json {
    let properties: Map<String, Json> = def
        .fields
        .iter()
        .map(|f| (f.json.to_string(), field_schema(registry, f)))
        .collect();
    let simple = if def.simple.is_empty() {
        "every field".to_string()
    } else {
        format!("only {}", def.simple.join(", "))
    };
    let mut description = format!(
        "Block `{}` (table {}, code `{}`). The simple result has {simple}.",
        def.block, def.table, def.code
    );
    if let Some(scope) = &def.scope {
        description.push_str(&format!(
            " This webhook writes rows whose `{}` is {} and reads those that are {}.",
            scope.field,
            scope.write.join(" or "),
            scope.read.join(" or ")
        ));
    }
    let mut schema = json!({
        "type": "object",
        "title": def.block,
        "description": description,
        "properties": properties,
    });
    if let Some(catalog) = def.dynamic_fields {
        let description = format!(
            "Dynamic field `{DYNAMIC_FIELD_PREFIX}<name>` (extended results): the name must be \
             declared for entity `{catalog}` in the dynamicfield catalog."
        );
        let pattern = format!("^{DYNAMIC_FIELD_PREFIX}");
        schema["patternProperties"] =
            json!({ pattern: { "type": "string", "description": description } });
    }
    schema
}

/// The block as a PUT sends it: the block's fields, plus the keys only requests carry.
fn input_schema(def: &EntityDef) -> Json {
    let mut properties: Map<String, Json> = def
        .fields
        .iter()
        .map(|f| (f.json.to_string(), input_field_schema(f.ty)))
        .collect();
    let recode = format!(
        "Recoding: the code this row has now; the row takes the block's `{}` and every \
         reference follows. null or \"\": no recoding.",
        def.code
    );
    properties.insert(
        def.recode_key(),
        json!({ "type": ["string", "null"], "description": recode }),
    );
    for key in &def.ignored_keys {
        properties.insert(
            (*key).into(),
            json!({ "description": "Accepted and ignored (SPEC 11.4)." }),
        );
    }
    if def.dynamic_fields.is_some() {
        let pairs = json!({
            "type": "array",
            "description": format!(
                "Dynamic fields as pairs, the same as `{DYNAMIC_FIELD_PREFIX}<fieldname>` keys."
            ),
            "items": {
                "type": "object",
                "required": ["fieldname", "fieldvalue"],
                "properties": {
                    "fieldname": { "type": "string" },
                    "fieldvalue": { "type": ["string", "number", "boolean", "null"] },
                },
            },
        });
        properties.insert(DYNAMIC_FIELDS_KEY.into(), pairs);
    }
    let mut schema = json!({
        "type": "object",
        "description": format!(
            "Block `{block}` as a PUT sends it; each field means what it means in `{name}`. \
             Names are case-insensitive; numbers and booleans are accepted where the type \
             allows; null or \"\" clears a field (on create: the default applies); absent \
             fields keep their value. A key the entity does not define is VALIDATION_FAILED.",
            block = def.block,
            name = def.name,
        ),
        "properties": properties,
    });
    if def.dynamic_fields.is_some() {
        let pattern = format!("^{DYNAMIC_FIELD_PREFIX}");
        let value = json!({ "type": ["string", "number", "boolean", "null"] });
        schema["patternProperties"] = json!({ pattern: value });
    }
    schema
}

/// The JSON types and constraint of a field's value as a request may send it (SPEC
/// section 3, engine::value): a string in the reply's form, a number where it reads as one
/// (any type but the dates), a boolean for a Bool, null to clear.
fn input_field_schema(ty: Type) -> Json {
    let mut schema = value_constraint(ty);
    let types = match ty {
        Type::Date | Type::DateTime => json!(["string", "null"]),
        Type::Bool => json!(["string", "number", "boolean", "null"]),
        _ => json!(["string", "number", "null"]),
    };
    if ty == Type::Bool {
        schema.insert(
            "enum".into(),
            json!(["0", "1", "true", "false", "", 0, 1, true, false, null]),
        );
    }
    schema.insert("type".into(), types);
    Json::Object(schema)
}

/// The constraint of a field's string form, each admitting `""` (null): a length, a
/// pattern or the values.
fn value_constraint(ty: Type) -> Map<String, Json> {
    let mut constraint = Map::new();
    let (key, value) = match ty {
        Type::Varchar(n) => ("maxLength", json!(n)),
        Type::Text => ("maxLength", json!(TEXT_MAX_LENGTH)),
        Type::Int => ("pattern", json!(INT_PATTERN)),
        Type::Double => ("pattern", json!(DOUBLE_PATTERN)),
        Type::Bool => ("enum", json!(["0", "1", ""])),
        Type::Date | Type::DateTime => ("pattern", json!(DATE_PATTERN)),
    };
    constraint.insert(key.into(), value);
    constraint
}

/// One field: a string with its type's constraint, and what else a client must know.
fn field_schema(registry: &Registry, field: &Field) -> Json {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("string"));
    schema.extend(value_constraint(field.ty));
    let mut notes: Vec<String> = Vec::new();
    match field.ty {
        Type::Int => notes.push("Int (32-bit).".into()),
        Type::Double => notes.push("Double, in its shortest form (\"0\", \"0.5\").".into()),
        Type::Date => notes.push("Date: YYYY-MM-DD (a time sent is dropped).".into()),
        Type::DateTime => notes.push("DateTime: YYYY-MM-DD HH:MM:SS, no zone.".into()),
        Type::Varchar(_) | Type::Text | Type::Bool => {}
    }
    match field.reference {
        Some(Reference::Entity(target)) => notes.push(match registry.get(target) {
            Some(t) => format!(
                "Foreign key: the code of a {target} ({}.{}).",
                t.table,
                t.code_field().column
            ),
            None => format!("Foreign key: the code of a {target}."),
        }),
        Some(Reference::GenericType(datatype)) => notes.push(format!(
            "Foreign key: a generictype of dataType {datatype}, as its originalCode (the full \
             code {datatype}-... is accepted on input)."
        )),
        None => {}
    }
    if let Some(default) = field.default {
        notes.push(format!("Default on create: {}.", default_text(default)));
    }
    if !field.aliases.is_empty() {
        let aliases: Vec<String> = field.aliases.iter().map(|a| format!("`{a}`")).collect();
        notes.push(format!("Also accepted on input as {}.", aliases.join(", ")));
    }
    if !notes.is_empty() {
        schema.insert("description".into(), json!(notes.join(" ")));
    }
    Json::Object(schema)
}

fn default_text(default: CreateDefault) -> String {
    match default {
        CreateDefault::Value(value) => format!("\"{value}\""),
        CreateDefault::Now => "now".into(),
        CreateDefault::Today => "today".into(),
        CreateDefault::GenericTypeTag { datatype, tag } => {
            format!("the {datatype} generictype tagged {tag}")
        }
    }
}

/// The one object of extendedRelated's `related`: each key is the referenced row as its
/// own entity's GET extended (SPEC 11.5), every key `""` when the foreign key is empty.
fn related_schema(registry: &Registry, def: &EntityDef) -> Json {
    let properties: Map<String, Json> = def
        .related
        .iter()
        .map(|related| {
            let target = match def.field(related.field).and_then(|f| f.reference) {
                Some(Reference::Entity(entity)) => Some(entity),
                Some(Reference::GenericType(_)) => Some("generictype"),
                None => None,
            };
            let description = format!("The row `{}` names.", related.field);
            let schema = match target.filter(|t| registry.get(t).is_some()) {
                Some(target) => {
                    json!({ "description": description, "allOf": [schema_ref(target)] })
                }
                None => json!({ "type": "object", "description": description }),
            };
            (related.key.to_string(), schema)
        })
        .collect();
    json!({ "type": "object", "properties": properties })
}

/// `indicators` (SPEC 8.1, 11.12), in engine::render's order: the extension's fields with
/// the view's renames, each live count after the key its definition names.
fn indicators_schema(registry: &Registry, def: &EntityDef) -> Option<Json> {
    let spec = def.indicators.as_ref()?;
    let extension = registry.get(spec.entity)?;
    let count = |live: &crate::engine::definition::LiveCount| {
        let description = format!(
            "Counted live: the {} rows whose `{}` is this code.",
            live.entity, live.field
        );
        json!({ "type": "string", "pattern": "^[0-9]+$", "description": description })
    };
    let mut properties = Map::new();
    for field in &extension.fields {
        let renamed = spec.renames.iter().find(|(from, _)| *from == field.json);
        let key = renamed.map_or(field.json, |(_, to)| *to);
        properties.insert(key.into(), field_schema(registry, field));
        for live in spec.live.iter().filter(|l| l.after == field.json) {
            properties.insert(live.json.into(), count(live));
        }
    }
    for live in &spec.live {
        if !properties.contains_key(live.json) {
            properties.insert(live.json.into(), count(live));
        }
    }
    let description = format!(
        "From {} by `{}`, with live counts.",
        extension.table, spec.field
    );
    Some(json!({ "type": "object", "description": description, "properties": properties }))
}

/// One item of `partners` (SPEC 11.10): code, customer, the customer's name, role.
fn partner_schema(registry: &Registry, def: &EntityDef) -> Option<Json> {
    let spec = def.partners.as_ref()?;
    let partner = registry.get(spec.entity)?;
    let string = json!({ "type": "string" });
    let mut properties = Map::new();
    properties.insert(partner.code.into(), string.clone());
    properties.insert(spec.customer.into(), string.clone());
    properties.insert(
        "name".into(),
        json!({ "type": "string", "description": "The customer's name." }),
    );
    properties.insert(spec.role.into(), string);
    Some(json!({ "type": "object", "properties": properties }))
}

// ---------------------------------------------------------------------------------------
// Headers (SPEC sections 2, 3 and 5)

fn message_traits(topology: &Topology) -> Json {
    let partition_code = format!(
        "The request's entity code (GET and DELETE's `code`, the code of PUT's block). Only \
         read when the worker runs with PARTITIONS > 0: the consistent-hash exchange `{}` \
         hashes it to choose a partition queue (`{}`, `{}`, ...), so that one code's requests \
         stay in order. Without it, every request of the entity goes to one partition.",
        topology.partition_exchange("<entity>"),
        topology.partition_queue("<entity>", 0),
        topology.partition_queue("<entity>", 1),
    );
    let webhook_version = json!({
        "enum": [1, 2, "1", "2"],
        "default": 1,
        "description": "Absent means 1; any other value is WEBHOOK_VERSION_MISMATCH.",
    });
    let dead_lettered: Vec<&str> = ERROR_CODES
        .iter()
        .filter(|c| c.dead_letters())
        .map(|c| c.as_str())
        .collect();
    json!({
        "request": {
            "headers": {
                "type": "object",
                "properties": {
                    HEADER_WEBHOOK_VERSION: webhook_version.clone(),
                    PARTITION_HEADER: { "type": "string", "description": partition_code },
                },
            },
        },
        "reply": {
            "headers": {
                "type": "object",
                "required": [HEADER_STATUS, HEADER_ENTITY, HEADER_VERB],
                "properties": {
                    HEADER_STATUS: { "type": "string", "enum": [STATUS_OK, STATUS_ERROR] },
                    HEADER_ENTITY: { "type": "string" },
                    HEADER_VERB: { "type": "string", "enum": verb_labels() },
                },
            },
        },
        "deadLetter": {
            "headers": {
                "type": "object",
                "description": "Every header of the request, plus these. A message that the \
                                broker dead-lettered (its backstop) carries RabbitMQ's x-death \
                                headers instead.",
                "required": [
                    HEADER_ERROR_CODE, HEADER_ERROR_MESSAGE, HEADER_ERROR_DETAILS,
                    HEADER_ORIGINAL_QUEUE, HEADER_DEAD_LETTERED_AT, HEADER_REPLAY_COUNT,
                ],
                "properties": {
                    HEADER_WEBHOOK_VERSION: webhook_version,
                    HEADER_ERROR_CODE: { "type": "string", "enum": dead_lettered },
                    HEADER_ERROR_MESSAGE: { "type": "string" },
                    HEADER_ERROR_DETAILS: {
                        "type": "string",
                        "description": "The reply's error details, as JSON text.",
                    },
                    HEADER_ORIGINAL_QUEUE: {
                        "type": "string",
                        "description": "The queue it was consumed from, prefix included.",
                    },
                    HEADER_DEAD_LETTERED_AT: {
                        "type": "string", "format": "date-time", "description": "RFC 3339, UTC.",
                    },
                    HEADER_REPLAY_COUNT: {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Replays before this failure; `dlq replay` adds 1.",
                    },
                },
            },
        },
    })
}

// ---------------------------------------------------------------------------------------
// YAML

/// `value` as block YAML: maps and sequences one entry a line, empty ones in flow style
/// (`{}`, `[]`), strings plain when no YAML 1.1 or 1.2 parser can misread them, else
/// double-quoted. Keys keep the map's order.
pub fn to_yaml(value: &Json) -> String {
    let mut out = String::new();
    match value {
        Json::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Json::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
    out
}

/// A non-empty map at `indent`; `inline_first`: its first key follows a `- ` already written.
fn write_map(out: &mut String, map: &Map<String, Json>, indent: usize, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 || !inline_first {
            push_indent(out, indent);
        }
        out.push_str(&yaml_string(key));
        out.push(':');
        write_value(out, value, indent + 2);
    }
}

/// A non-empty sequence at `indent`.
fn write_seq(out: &mut String, items: &[Json], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push('-');
        match item {
            Json::Object(map) if !map.is_empty() => {
                out.push(' ');
                write_map(out, map, indent + 2, true);
            }
            _ => write_value(out, item, indent + 2),
        }
    }
}

/// What follows a key's `:` or an item's `-`: a nested block on the next lines, or ` scalar`.
fn write_value(out: &mut String, value: &Json, indent: usize) {
    match value {
        Json::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent, false);
        }
        Json::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar, or an empty collection in flow style.
fn yaml_scalar(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => yaml_string(s),
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

/// Words that YAML 1.1 reads as booleans or null when plain.
const YAML_RESERVED: [&str; 10] = [
    "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
];

/// Plain when `s` starts with a letter, `_`, `$` or `/`, holds only ASCII letters, digits,
/// spaces and `_$./-`, does not end with a space and is no reserved word: then it has no
/// indicator, no `: ` or ` #`, and cannot read as a number, a date or a boolean. Otherwise
/// double-quoted with JSON's escapes (YAML's double-quoted style has them all), plus `\u`
/// escapes for the characters YAML would fold or refuse raw.
fn yaml_string(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "_$/".contains(c))
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _$./-".contains(c))
        && !YAML_RESERVED.iter().any(|w| w.eq_ignore_ascii_case(s));
    if plain {
        return s.to_string();
    }
    let mut quoted = String::with_capacity(s.len() + 2);
    for c in Json::String(s.to_string()).to_string().chars() {
        match c {
            '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}' => {
                quoted.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => quoted.push(c),
        }
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_registered_entity() {
        let registry = Registry::standard();
        let doc = document(&registry);
        for name in registry.names() {
            for channel in [
                format!("webhook.{name}"),
                format!("webhook.{name}.reply"),
                format!("webhook.{name}.dlq"),
            ] {
                assert!(
                    doc["channels"][&channel].is_object(),
                    "no channel {channel}"
                );
            }
            for verb in VERBS {
                let operation = format!("{name}.{}", verb.as_str());
                assert!(doc["operations"][&operation].is_object(), "no {operation}");
                let request = message_id_of(name, verb, "request");
                assert!(
                    doc["components"]["messages"][&request].is_object(),
                    "no {request}"
                );
            }
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "no schema {name}"
            );
        }
        let channels = doc["channels"].as_object().map_or(0, Map::len);
        assert_eq!(channels, 3 * registry.names().len());
    }

    fn message_id_of(entity: &str, verb: Verb, direction: &str) -> String {
        format!("{entity}.{}.{direction}", verb.as_str())
    }

    #[test]
    fn the_document_is_deterministic() {
        let first = asyncapi(&Registry::standard());
        let second = asyncapi(&Registry::standard());
        assert_eq!(first, second);
        assert!(
            first.starts_with("asyncapi: \"3.0.0\"\n"),
            "{}",
            &first[..40]
        );
    }

    #[test]
    fn every_reference_points_into_the_document() {
        let doc = document(&Registry::standard());
        let mut pointers = Vec::new();
        collect_refs(&doc, &mut pointers);
        assert!(pointers.len() > 100);
        for pointer in pointers {
            let path = pointer.trim_start_matches('#');
            assert!(doc.pointer(path).is_some(), "dangling $ref {pointer}");
        }
    }

    fn collect_refs(value: &Json, out: &mut Vec<String>) {
        match value {
            Json::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Json::String(pointer)) => out.push(pointer.clone()),
                        _ => collect_refs(inner, out),
                    }
                }
            }
            Json::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
            _ => {}
        }
    }

    #[test]
    fn every_field_is_a_string_with_its_type_constraint_and_foreign_key() {
        let doc = document(&Registry::standard());
        let customer = &doc["components"]["schemas"]["customer"]["properties"];
        assert_eq!(customer["postalCode"]["maxLength"], 16);
        assert_eq!(customer["blocked"]["enum"], json!(["0", "1", ""]));
        assert_eq!(customer["workforce"]["pattern"], INT_PATTERN);
        let description = |field: &str| customer[field]["description"].as_str().unwrap_or("");
        assert!(description("baseuser_ID").contains("sw_data_baseuser.codebaseuser"));
        assert!(description("generictype_ID_country").contains("dataType COUNTRY"));
        assert!(description("vacationStart").starts_with("Date: YYYY-MM-DD"));
        let fields = customer.as_object().map_or(0, Map::len);
        let registry = Registry::standard();
        assert_eq!(
            fields,
            registry.get("customer").map_or(0, |d| d.fields.len())
        );
        assert!(customer
            .as_object()
            .into_iter()
            .flatten()
            .all(|(_, f)| f["type"] == "string"));
        // Requests may send null (the seeds do) and numbers.
        let input = &doc["components"]["schemas"]["customer.input"]["properties"];
        assert_eq!(
            input["address2"]["type"],
            json!(["string", "number", "null"])
        );
        assert_eq!(input["address2"]["maxLength"], 255);
        assert!(input["internalcodecustomer"].is_object());
    }

    #[test]
    fn requests_carry_the_entity_filters_orders_and_child_blocks() {
        let doc = document(&Registry::standard());
        let messages = &doc["components"]["messages"];
        let list = &messages["customer.LIST.request"]["payload"]["properties"];
        assert!(list["filters"]["properties"]["emailDomain"].is_object());
        assert_eq!(list["orderBy"]["enum"], json!(["nameAsc"]));
        let put = &messages["customer.PUT.request"]["payload"];
        assert_eq!(put["required"], json!(["verb", "customer"]));
        assert_eq!(put["properties"]["customer"], schema_ref("customer.input"));
        assert!(put["properties"]["customeruser"]["oneOf"].is_array());
        let reply = &messages["customer.GET.reply"]["payload"]["oneOf"];
        assert_eq!(reply[1], schema_ref("ErrorReply"));
        let error_codes = &doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"];
        assert_eq!(
            error_codes.as_array().map(Vec::len),
            Some(ERROR_CODES.len())
        );
    }

    #[test]
    fn yaml_quotes_what_a_parser_could_misread() {
        for (text, yaml) in [
            ("customer", "customer"),
            ("webhook.customer.dlq", "webhook.customer.dlq"),
            ("$ref", "$ref"),
            ("/", "/"),
            ("customer requests", "customer requests"),
            ("", "\"\""),
            ("0", "\"0\""),
            ("1.5", "\"1.5\""),
            ("yes", "\"yes\""),
            ("Off", "\"Off\""),
            ("null", "\"null\""),
            ("a: b", "\"a: b\""),
            ("#/components/schemas/x", "\"#/components/schemas/x\""),
            ("^v_", "\"^v_\""),
            ("-x", "\"-x\""),
            ("trailing ", "\"trailing \""),
            ("line\nbreak \"q\"", "\"line\\nbreak \\\"q\\\"\""),
            ("sep\u{2028}", "\"sep\\u2028\""),
            ("Créé", "\"Créé\""),
        ] {
            assert_eq!(yaml_string(text), yaml, "{text:?}");
        }
    }

    #[test]
    fn yaml_writes_nested_maps_and_sequences_as_blocks() {
        let value = json!({
            "a": { "b": 1, "c": [true, null, "x y"] },
            "d": [{ "e": "f", "g": { "h": [] } }, [1, 2], {}],
            "i": {},
        });
        let expected = "\
a:
  b: 1
  c:
    - true
    - null
    - x y
d:
  - e: f
    g:
      h: []
  -
    - 1
    - 2
  - {}
i: {}
";
        assert_eq!(to_yaml(&value), expected);
    }
}
