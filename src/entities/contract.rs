//! Contract (seed 002), table `sw_data_contract`, its child block `contractbilling`
//! (`sw_data_contractbilling`) and the reference entities it points at: `contracttype`,
//! `frequency`, and `contractequipment`, the contract ↔ equipment link that LIST's
//! `codeEquipment` reads. Data only; the rules are in SPEC 8.3:
//!
//! - webhookVersion 1: the PUT carries `contracttype`, `customer` and `site` (a
//!   `customeraddress` row), written first, in that order (the site references the customer),
//!   by their own entities' definitions; webhookVersion 2: these blocks are absent, sent
//!   beforehand through their own queues. Either way round is WEBHOOK_VERSION_MISMATCH
//!   (`Companion::required_in`).
//! - `generictype_ID_status` defaults to CONTRACT_STATUS-NEW on create; `contract_ID_parent`
//!   must name an existing contract (the engine's foreign-key check).
//! - DELETE cascades to the billing lines and the equipment links.
//!
//! The tables are created by `migrations/0004_contract.sql`.

use crate::engine::definition::{
    Child, Companion, CreateDefault, EntityDef, Field, Filter, Op, Related, Type,
};

/// The contract webhook and the entities that come with it, dependencies first.
pub fn all() -> Vec<EntityDef> {
    vec![
        contracttype(),
        frequency(),
        contract(),
        contractbilling(),
        contractequipment(),
    ]
}

/// Every field of `sw_data_contract`, in 002's GET extended order (SPEC 10). 002's PUT
/// sends no other field: `internalcodecontract` is the recoding key and
/// `internalCodeCustomer` is ignored (SPEC 11.4, see `contract()`).
fn fields() -> Vec<Field> {
    use Type::*;
    vec![
        Field::varchar("codecontract", 255),
        Field::varchar("label", 255),
        Field::varchar("contractNumber", 64),
        Field::fk("customer_ID", "customer"),
        Field::generictype("generictype_ID_status", "CONTRACT_STATUS")
            .default(CreateDefault::Value("CONTRACT_STATUS-NEW")),
        Field::fk("contracttype_ID", "contracttype"),
        Field::new("description", Text),
        Field::new("startDate", DateTime),
        Field::new("endDate", DateTime),
        Field::new("limitDate", DateTime),
        Field::new("amount", Double),
        // Intervention types are not served by this build: a plain code, like baseuser's
        // `resourcetype_ID` (docs/data-model.md).
        Field::varchar("interventiontype_ID", 255),
        Field::fk("frequency_ID", "frequency"),
        Field::new("dunningDateValue", Int),
        Field::generictype("generictype_ID_dunningDateUnit", "TIME_INTERVAL_UNIT"),
        Field::fk("contract_ID_parent", "contract"),
        Field::new("closingDate", DateTime),
        Field::varchar("customerReference", 255),
        Field::new("version", Int),
        Field::varchar("amendmentNumber", 64),
        // 002: `sw_data_deal.codedeal`, served by the opportunity webhook (SPEC 8.4).
        Field::fk("deal_ID", "opportunity"),
        Field::fk("dealelement_ID", "dealelement"),
    ]
}

/// The contract webhook (queue `webhook.contract`).
pub fn contract() -> EntityDef {
    let mut def = EntityDef::new("contract", "sw_data_contract", fields());
    def.simple = vec![
        "codecontract",
        "label",
        "contractNumber",
        "customer_ID",
        "generictype_ID_status",
        "contracttype_ID",
    ];
    // 002's LIST filters, all "equal" but `label` (contains).
    def.filters = vec![
        Filter::new("codeContract", "codecontract", Op::Equal),
        Filter::new("label", "label", Op::Contains),
        Filter::new("codeCustomer", "customer_ID", Op::Equal),
        Filter::new("contractType", "contracttype_ID", Op::Equal),
        Filter::new("codeDeal", "deal_ID", Op::Equal),
        Filter::new("codeStatus", "generictype_ID_status", Op::Equal),
        // SPEC 8.3: the contracts linked to that equipment code.
        Filter::new(
            "codeEquipment",
            "codecontract",
            Op::LinkedThrough {
                table: "sw_data_contractequipment",
                link: "contract_ID",
                column: "equipment_ID",
            },
        ),
    ];
    // 002's extendedRelated, in its order; `deal` is the opportunity's GET extended (11.5).
    def.related = vec![
        Related::new("contracttype", "contracttype_ID"),
        Related::new("customer", "customer_ID"),
        Related::new("generictype_status", "generictype_ID_status"),
        Related::new("deal", "deal_ID"),
        Related::new("dealelement", "dealelement_ID"),
    ];
    def.children = vec![Child::new(
        "contractbilling",
        "contractbilling",
        "contract_ID",
    )];
    // SPEC 8.3: in this order, the write order (the site references the customer).
    def.companions = vec![
        companion("contracttype", "contracttype"),
        companion("customer", "customer"),
        Companion {
            fixed: vec![("site", "1")],
            ..companion("site", "customeraddress")
        },
    ];
    // SPEC 11.4: the customer's code before its recoding; the contract's `customer_ID`
    // follows the recoding through the foreign key by itself.
    def.ignored_keys = vec!["internalCodeCustomer"];
    def
}

/// `sw_data_contractbilling`: the contract's `contractbilling` block, upserted by
/// `codecontractbilling`; `contract_ID` defaults to the contract's code (SPEC 8) and the
/// line goes with its contract on DELETE (SPEC 8.3).
pub fn contractbilling() -> EntityDef {
    use Type::*;
    let mut def = EntityDef::new(
        "contractbilling",
        "sw_data_contractbilling",
        vec![
            Field::varchar("codecontractbilling", 255),
            Field::fk("contract_ID", "contract").cascade(),
            Field::new("startDate", DateTime),
            Field::new("endDate", DateTime),
            Field::fk("frequency_ID", "frequency"),
            Field::new("workforceIncluded", Bool),
            Field::new("partsIncluded", Bool),
            Field::new("travelsIncluded", Bool),
            Field::new("amount", Double),
        ],
    );
    def.filters = vec![
        Filter::new("code", "codecontractbilling", Op::Equal),
        Filter::new("codeContract", "contract_ID", Op::Equal),
    ];
    def
}

/// `sw_data_contracttype`: 002's related `contracttype` block. `generictype_ID_badgeColor`'s
/// datatype is not in the seeds: BADGE_COLOR is ours.
pub fn contracttype() -> EntityDef {
    use Type::*;
    EntityDef::reference(
        "contracttype",
        "sw_data_contracttype",
        vec![
            Field::varchar("codecontracttype", 255),
            Field::varchar("label", 255),
            Field::varchar("prefix", 64),
            Field::new("numberLength", Int),
            Field::new("counter", Int),
            Field::generictype("generictype_ID_badgeColor", "BADGE_COLOR"),
        ],
    )
}

/// `sw_data_frequency`: the target of `frequency_ID` (contract and billing lines). No seed
/// shows its block: a code and a label.
pub fn frequency() -> EntityDef {
    EntityDef::reference(
        "frequency",
        "sw_data_frequency",
        vec![
            Field::varchar("codefrequency", 255),
            Field::varchar("label", 255),
        ],
    )
}

/// `sw_data_contractequipment`: one equipment (`equipment_ID`, a plain code: equipments are
/// not served by this build) covered by one contract; goes with its contract on DELETE.
pub fn contractequipment() -> EntityDef {
    let mut def = EntityDef::reference(
        "contractequipment",
        "sw_data_contractequipment",
        vec![
            Field::varchar("codecontractequipment", 255),
            Field::fk("contract_ID", "contract").cascade(),
            Field::varchar("equipment_ID", 255),
        ],
    );
    def.filters.extend([
        Filter::new("codeContract", "contract_ID", Op::Equal),
        Filter::new("codeEquipment", "equipment_ID", Op::Equal),
    ]);
    def
}

/// A block of `entity` written before the contract, mandatory with webhookVersion 1 and
/// forbidden with 2 (SPEC 8.3).
fn companion(block: &'static str, entity: &'static str) -> Companion {
    Companion {
        block,
        entity,
        required_in: vec![1],
        fixed: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_writes_its_three_version_1_blocks_first_customer_before_site() {
        let def = contract();
        let order: Vec<_> = def
            .companions
            .iter()
            .map(|c| (c.block, c.entity, c.required_in.clone()))
            .collect();
        assert_eq!(
            order,
            [
                ("contracttype", "contracttype", vec![1]),
                ("customer", "customer", vec![1]),
                ("site", "customeraddress", vec![1]),
            ]
        );
    }

    #[test]
    fn contract_keys_are_the_seed_extended_keys_in_order() {
        let def = contract();
        let keys: Vec<_> = def.fields.iter().map(|f| f.json).collect();
        assert_eq!(
            keys,
            [
                "codecontract",
                "label",
                "contractNumber",
                "customer_ID",
                "generictype_ID_status",
                "contracttype_ID",
                "description",
                "startDate",
                "endDate",
                "limitDate",
                "amount",
                "interventiontype_ID",
                "frequency_ID",
                "dunningDateValue",
                "generictype_ID_dunningDateUnit",
                "contract_ID_parent",
                "closingDate",
                "customerReference",
                "version",
                "amendmentNumber",
                "deal_ID",
                "dealelement_ID",
            ]
        );
        assert_eq!(def.recode_key(), "internalcodecontract");
    }

    #[test]
    fn billing_lines_and_equipment_links_go_with_their_contract() {
        for def in [contractbilling(), contractequipment()] {
            let link = def.field("contract_ID").expect("contract_ID");
            assert_eq!(
                link.on_delete,
                crate::engine::definition::OnDelete::Cascade,
                "{}",
                def.name
            );
        }
    }
}
