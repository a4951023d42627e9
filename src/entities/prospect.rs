//! Prospect (seed 001): the customer's table `sw_data_customer` seen through the prospect's
//! names (SPEC 8.1), as data: the customer definition renamed, scoped to type CTP, with
//! 001's filters. Its `prospectuser` block is `sw_data_customeruser` renamed likewise.

use crate::engine::definition::{CreateDefault, EntityDef, Filter, Op, Scope};

use super::customer::{customer, customeruser};

/// The prospect's names for the customer's (SPEC 8.1); the customer's names stay accepted
/// on input (SPEC 11.3).
const RENAMES: &[(&str, &str)] = &[
    ("codecustomer", "codeprospect"),
    ("customer_ID_paying", "prospect_ID_paying"),
    (
        "generictype_ID_customerFamily",
        "generictype_ID_prospectFamily",
    ),
    ("generictype_ID_customerType", "generictype_ID_prospectType"),
    (
        "generictype_ID_customerPotential",
        "generictype_ID_prospectPotential",
    ),
    ("customergroup_ID", "prospectgroup_ID"),
    ("generictype_customerFamily", "generictype_prospectFamily"),
    ("customeruser", "prospectuser"),
    // the prospectuser block's parent field
    ("customer_ID", "prospect_ID"),
];

/// The prospect webhook (queue `webhook.prospect`).
pub fn prospect() -> EntityDef {
    let mut def = customer().view("prospect", RENAMES);
    for field in def
        .fields
        .iter_mut()
        .filter(|f| f.json == "generictype_ID_prospectType")
    {
        field.default = Some(CreateDefault::Value("CUSTOMER_TYPE-CTP"));
    }
    // SPEC 8.1: the prospect webhook writes and reads CTP only.
    def.scope = Some(Scope {
        field: "generictype_ID_prospectType",
        write: vec!["CUSTOMER_TYPE-CTP"],
        read: vec!["CUSTOMER_TYPE-CTP"],
    });
    def.filters = vec![
        Filter::new("codeProspect", "codeprospect", Op::Equal),
        Filter::new("name", "name", Op::Contains),
        Filter::new(
            "codeProspectFamily",
            "generictype_ID_prospectFamily",
            Op::Equal,
        ),
        Filter::new("codeCountry", "generictype_ID_country", Op::Equal),
        Filter::new("codeBaseuser", "baseuser_ID", Op::Equal),
        Filter::new("codeBranchoffice", "branchoffice_ID", Op::Equal),
        Filter::new("email", "email", Op::Equal),
        Filter::new("emailDomain", "email", Op::EndsWith),
        Filter::new("siretNumber", "siretNumber", Op::Equal),
        Filter::new("city", "city", Op::StartsWith),
        Filter::new("notClosedBefore", "closedDate", Op::NotClosedBefore),
    ];
    if let Some(indicators) = &mut def.indicators {
        indicators.renames = vec![
            ("codecustomerextension", "codeprospectextension"),
            ("customer_ID", "prospect_ID"),
            (
                "generictype_ID_customerpotential",
                "generictype_ID_prospectpotential",
            ),
        ];
    }
    def
}

/// `sw_data_customeruser` through the prospect's names: the `prospectuser` block.
pub fn prospectuser() -> EntityDef {
    customeruser().view(
        "prospectuser",
        &[
            ("codecustomeruser", "codeprospectuser"),
            ("customer_ID", "prospect_ID"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prospect_is_the_customer_renamed_and_keeps_the_customer_names_as_aliases() {
        let def = prospect();
        assert_eq!(
            (def.name, def.table, def.code),
            ("prospect", "sw_data_customer", "codeprospect")
        );
        let family = def
            .field_named("generictype_ID_customerFamily")
            .expect("alias");
        assert_eq!(
            (family.json, family.column),
            (
                "generictype_ID_prospectFamily",
                "generictype_ID_customerFamily"
            )
        );
        assert_eq!(def.children[0].block, "prospectuser");
        assert_eq!(def.recode_key(), "internalcodeprospect");
        assert!(def
            .related
            .iter()
            .any(|r| r.key == "generictype_prospectFamily"));
        let user = prospectuser();
        assert_eq!(user.code, "codeprospectuser");
        assert!(user.field("prospect_ID").is_some());
    }
}
