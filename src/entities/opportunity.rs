//! Opportunity (seed 003, SPEC 8.4 and 11.10, 11.11, 11.15): table `sw_data_deal`, with its
//! child blocks `opportunitystep` (`sw_data_dealstep`) and `customeraddressopportunity`
//! (`sw_data_customeraddressdeal`), and the deal family's reference entities with their own
//! queues: `opportunitysteptype` (`sw_data_dealsteptype`), `dealpartner` (11.10),
//! `dealelement` and `marketinglead`.
//!
//! Names: the opportunity webhook reads `opportunity` for every `deal` of a column name
//! (11.15): `codeopportunity` is column `codedeal`, `opportunityNumber` is `dealNumber`,
//! `generictype_ID_opportunityType` is `generictype_ID_dealType`, and so on. The deal names
//! (which 003's GET example still shows) are accepted on input as aliases.
//!
//! Data only, but for the two rules of SPEC 8.4 that data cannot express, named hooks at the
//! end of this file: the opportunity type must be a project DEAL_DEALTYPE
//! ([`project_type`]), and the opportunity takes the status its current step's type carries
//! ([`status_of_current_step`]).

use futures_util::future::BoxFuture;
use serde_json::Value as Json;
use sqlx::{PgConnection, Row};

use crate::engine::definition::{
    Child, CreateDefault, EntityDef, Field, Filter, Op, Partners, Related, Sort, Type,
};
use crate::engine::error::{EngineError, FieldError};
use crate::engine::hooks::{Hook, Written};

/// The opportunity webhook and the entities that come with it, dependencies first.
pub fn all() -> Vec<EntityDef> {
    vec![
        marketinglead(),
        opportunitysteptype(),
        opportunity(),
        opportunitystep(),
        customeraddressopportunity(),
        dealpartner(),
        dealelement(),
    ]
}

/// The originalCode of the DEAL_DEALTYPE generictype that is "the project type": an
/// opportunity's type must have it as parent (SPEC 8.4; 003: `generictype_ID_parent =
/// PROJECT`, shown as `Project`, hence compared without case). The demo data's row is
/// `DEAL_DEALTYPE-PROJECT`.
pub const PROJECT_TYPE: &str = "PROJECT";

/// Every field of `sw_data_deal`, in 003's GET extended order with the opportunity's names
/// (11.15), then the columns no example of 003 shows: `isProject` (000's related `deal`
/// block) and `externalReference` (003's LIST filter).
fn fields() -> Vec<Field> {
    use Type::*;
    vec![
        Field::varchar("codeopportunity", 255)
            .column("codedeal")
            .alias("codedeal"),
        Field::fk("customer_ID", "customer"),
        Field::varchar("label", 255),
        Field::new("creationDate", DateTime).default(CreateDefault::Today),
        Field::generictype("generictype_ID_opportunityType", "DEAL_DEALTYPE")
            .column("generictype_ID_dealType")
            .alias("generictype_ID_dealType"),
        Field::generictype("generictype_ID_status", "OPPORTUNITY_STATUS").default(
            CreateDefault::GenericTypeTag {
                datatype: "OPPORTUNITY_STATUS",
                tag: "ACTIVE",
            },
        ),
        Field::varchar("opportunityNumber", 64)
            .column("dealNumber")
            .alias("dealNumber"),
        Field::new("description", Text),
        Field::new("closingDate", DateTime),
        Field::new("amount", Double),
        Field::new("probability", Int),
        Field::generictype("generictype_ID_lossReason", "DEAL_LOSTREASON"),
        Field::fk("customer_ID_introducer", "customer"),
        Field::fk("baseuser_ID", "baseuser"),
        Field::new("amount2", Double),
        Field::new("lossReasonComment", Text),
        Field::new("realClosingDate", DateTime),
        Field::fk("opportunitystep_ID_current", "opportunitystep")
            .column("dealstep_ID_current")
            .alias("dealstep_ID_current"),
        Field::fk("opportunity_ID_origin", "opportunity")
            .column("deal_ID_origin")
            .alias("deal_ID_origin"),
        Field::new("manualProbability", Bool),
        Field::fk("marketinglead_ID_origin", "marketinglead"),
        Field::fk("customercontact_ID", "customercontact"),
        Field::new("isProject", Bool),
        Field::varchar("externalReference", 255),
    ]
}

/// The opportunity webhook (queue `webhook.opportunity`).
pub fn opportunity() -> EntityDef {
    let mut def = EntityDef::new("opportunity", "sw_data_deal", fields());
    // 003's simple example, with the opportunity's names.
    def.simple = vec![
        "codeopportunity",
        "customer_ID",
        "label",
        "creationDate",
        "generictype_ID_opportunityType",
        "generictype_ID_status",
        "opportunityNumber",
    ];
    def.filters = vec![
        Filter::new("codeOpportunity", "codeopportunity", Op::Equal),
        Filter::new("opportunityNumber", "opportunityNumber", Op::Equal),
        Filter::new("label", "label", Op::Contains),
        Filter::new("creationDate", "creationDate", Op::GreaterOrEqual),
        Filter::new("creationDateBetween", "creationDate", Op::Between),
        Filter::new("codeCustomer", "customer_ID", Op::Equal),
        Filter::new(
            "opportunityType",
            "generictype_ID_opportunityType",
            Op::Equal,
        ),
        Filter::new("codeStatus", "generictype_ID_status", Op::Equal),
        Filter::new("externalReference", "externalReference", Op::Equal),
    ];
    def.sorts = vec![
        Sort::asc("opportunityNumberAsc", "opportunityNumber"),
        Sort::asc("labelAsc", "label"),
        Sort::asc("creationDateAsc", "creationDate"),
        Sort::desc("creationDateDesc", "creationDate"),
    ];
    // SPEC 8.4's list, in the order 003's extendedRelated example shows the blocks (the
    // status block comes right after the type block there).
    def.related = vec![
        Related::new(
            "generictype_opportunityType",
            "generictype_ID_opportunityType",
        ),
        Related::new("generictype_status", "generictype_ID_status"),
        Related::new("customer", "customer_ID"),
        Related::new("customercontact", "customercontact_ID"),
        Related::new("baseuser", "baseuser_ID"),
        Related::new("opportunitystep_current", "opportunitystep_ID_current"),
    ];
    // SPEC 8.4: step and address-link codes are generated when omitted.
    def.children = vec![
        Child::new("opportunitystep", "opportunitystep", "opportunity_ID").generated_codes(),
        Child::new(
            "customeraddressopportunity",
            "customeraddressopportunity",
            "opportunity_ID",
        )
        .generated_codes(),
    ];
    def.forbidden_blocks = vec![("dealelement", "an opportunity cannot carry deal elements")];
    def.dynamic_fields = Some("opportunity");
    def.partners = Some(Partners {
        entity: "dealpartner",
        link: "deal_ID",
        customer: "customer_ID",
        role: "role",
    });
    def.hooks = vec![
        Hook::new(
            "the opportunity type is a project DEAL_DEALTYPE",
            project_type,
        )
        .keeps_row(),
        Hook::new(
            "the opportunity takes its current step type's status",
            status_of_current_step,
        ),
    ];
    def
}

/// `sw_data_dealstep`: the `opportunitystep` block, keys of 003's `opportunitystep_current`
/// block. `stepDate` defaults to now (SPEC 8.4); the step goes with its opportunity.
pub fn opportunitystep() -> EntityDef {
    use Type::*;
    EntityDef::new(
        "opportunitystep",
        "sw_data_dealstep",
        vec![
            Field::varchar("codeopportunitystep", 255)
                .column("codedealstep")
                .alias("codedealstep"),
            Field::fk("opportunity_ID", "opportunity")
                .column("deal_ID")
                .alias("deal_ID")
                .cascade(),
            Field::new("stepDate", DateTime).default(CreateDefault::Now),
            Field::new("comment", Text),
            Field::fk("opportunitysteptype_ID", "opportunitysteptype")
                .column("dealsteptype_ID")
                .alias("dealsteptype_ID"),
        ],
    )
}

/// `sw_data_customeraddressdeal`: the `customeraddressopportunity` block (003's PUT), an
/// address of the customer linked to the opportunity; goes with its opportunity.
pub fn customeraddressopportunity() -> EntityDef {
    EntityDef::new(
        "customeraddressopportunity",
        "sw_data_customeraddressdeal",
        vec![
            Field::varchar("codecustomeraddressopportunity", 255)
                .column("codecustomeraddressdeal")
                .alias("codecustomeraddressdeal"),
            Field::fk("opportunity_ID", "opportunity")
                .column("deal_ID")
                .alias("deal_ID")
                .cascade(),
            Field::fk("customeraddress_ID", "customeraddress"),
        ],
    )
}

/// `sw_data_dealsteptype` (queue `webhook.opportunitysteptype`): the step types that 003's
/// steps name (`DEAL_STEP-PRJ-C`). A step type may carry the status its opportunity takes
/// when a step of this type becomes current (SPEC 8.4).
pub fn opportunitysteptype() -> EntityDef {
    let mut def = EntityDef::reference(
        "opportunitysteptype",
        "sw_data_dealsteptype",
        vec![
            Field::varchar("codeopportunitysteptype", 255)
                .column("codedealsteptype")
                .alias("codedealsteptype"),
            Field::varchar("label", 255),
            Field::generictype("generictype_ID_opportunityType", "DEAL_DEALTYPE")
                .column("generictype_ID_dealType")
                .alias("generictype_ID_dealType"),
            Field::generictype("generictype_ID_status", "OPPORTUNITY_STATUS"),
            Field::new("orderNumber", Type::Int),
        ],
    );
    def.filters.push(Filter::new(
        "opportunityType",
        "generictype_ID_opportunityType",
        Op::Equal,
    ));
    def
}

/// `sw_data_dealpartner` (queue `webhook.dealpartner`, SPEC 11.10): a partner customer of
/// an opportunity with its role, listed by `getPartners`. Goes with its opportunity.
pub fn dealpartner() -> EntityDef {
    let mut def = EntityDef::reference(
        "dealpartner",
        "sw_data_dealpartner",
        vec![
            Field::varchar("codedealpartner", 255),
            Field::fk("deal_ID", "opportunity")
                .alias("opportunity_ID")
                .cascade(),
            Field::fk("customer_ID", "customer"),
            Field::varchar("role", 255),
        ],
    );
    def.filters
        .push(Filter::new("codeDeal", "deal_ID", Op::Equal));
    def.filters
        .push(Filter::new("codeCustomer", "customer_ID", Op::Equal));
    def
}

/// `sw_data_dealelement` (queue `webhook.dealelement`): an element of a deal, which
/// contracts reference (002's `dealelement_ID`). An opportunity PUT may not carry them
/// (SPEC 8.4); they go with their deal.
pub fn dealelement() -> EntityDef {
    use Type::*;
    let mut def = EntityDef::reference(
        "dealelement",
        "sw_data_dealelement",
        vec![
            Field::varchar("codedealelement", 255),
            Field::fk("deal_ID", "opportunity").cascade(),
            Field::varchar("label", 255),
            Field::new("quantity", Double),
            Field::new("amount", Double),
        ],
    );
    def.filters
        .push(Filter::new("codeDeal", "deal_ID", Op::Equal));
    def
}

/// `sw_data_marketinglead` (queue `webhook.marketinglead`): the lead an opportunity
/// (`marketinglead_ID_origin`) or an event (`marketinglead_ID`) comes from.
pub fn marketinglead() -> EntityDef {
    use Type::*;
    let mut def = EntityDef::reference(
        "marketinglead",
        "sw_data_marketinglead",
        vec![
            Field::varchar("codemarketinglead", 255),
            Field::varchar("label", 255),
            Field::fk("customer_ID", "customer"),
            Field::new("description", Text),
            Field::new("creationDate", DateTime),
        ],
    );
    def.filters
        .push(Filter::new("codeCustomer", "customer_ID", Op::Equal));
    def
}

/// SPEC 8.4 (003: `generictype_ID_parent = PROJECT`): the opportunity's type must be a
/// DEAL_DEALTYPE generictype whose parent is the project type (the DEAL_DEALTYPE whose
/// originalCode is [`PROJECT_TYPE`]). The foreign-key check has already made sure that a
/// type sent is a DEAL_DEALTYPE; this checks the stored row, so an update that does not
/// send the type keeps being checked against the stored one, and an opportunity without a
/// type is refused too. `Err(InvalidForeignKey)` naming the rule: the request is
/// dead-lettered and its transaction rolled back.
fn project_type<'a>(
    conn: &'a mut PgConnection,
    written: &'a Written<'a>,
) -> BoxFuture<'a, Result<(), EngineError>> {
    Box::pin(async move {
        let row = sqlx::query(
            r#"SELECT d."generictype_ID_dealType",
                      EXISTS (SELECT 1 FROM sw_data_generictype p
                              WHERE p.codegenerictype = g."generictype_ID_parent"
                                AND p."dataType" = 'DEAL_DEALTYPE'
                                AND upper(p."originalCode") = $2)
               FROM sw_data_deal d
               LEFT JOIN sw_data_generictype g
                      ON g.codegenerictype = d."generictype_ID_dealType"
                     AND g."dataType" = 'DEAL_DEALTYPE'
               WHERE d.codedeal = $1"#,
        )
        .bind(written.code)
        .bind(PROJECT_TYPE)
        .fetch_one(&mut *conn)
        .await?;
        let stored: Option<String> = row.try_get(0)?;
        let is_project: bool = row.try_get(1)?;
        if is_project {
            return Ok(());
        }
        let mut error = FieldError::new(
            "opportunity",
            "generictype_ID_opportunityType",
            stored.map(Json::String).unwrap_or(Json::Null),
            format!(
                "the opportunity type must be a DEAL_DEALTYPE whose parent is the project \
                 type (generictype_ID_parent = DEAL_DEALTYPE {PROJECT_TYPE}), SPEC 8.4"
            ),
        );
        error.references = Some(format!(
            "sw_data_generictype.codegenerictype (dataType DEAL_DEALTYPE, parent {PROJECT_TYPE})"
        ));
        Err(EngineError::InvalidForeignKey(vec![error]))
    })
}

/// SPEC 8.4: "when the current step's type carries a status, the opportunity takes that
/// status", at the end of the create or update (003, Compléments). The step type's status
/// wins over a status sent in the same request.
fn status_of_current_step<'a>(
    conn: &'a mut PgConnection,
    written: &'a Written<'a>,
) -> BoxFuture<'a, Result<(), EngineError>> {
    Box::pin(async move {
        sqlx::query(
            r#"UPDATE sw_data_deal AS d SET "generictype_ID_status" = t."generictype_ID_status"
               FROM sw_data_dealstep AS s
               JOIN sw_data_dealsteptype AS t ON t.codedealsteptype = s."dealsteptype_ID"
               WHERE d.codedeal = $1
                 AND s.codedealstep = d."dealstep_ID_current"
                 AND t."generictype_ID_status" IS NOT NULL
                 AND d."generictype_ID_status" IS DISTINCT FROM t."generictype_ID_status""#,
        )
        .bind(written.code)
        .execute(&mut *conn)
        .await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opportunity_reads_opportunity_for_deal_and_accepts_the_deal_names() {
        let def = opportunity();
        assert_eq!(
            (def.name, def.table, def.code),
            ("opportunity", "sw_data_deal", "codeopportunity")
        );
        for (deal_name, json, column) in [
            ("codedeal", "codeopportunity", "codedeal"),
            ("dealNumber", "opportunityNumber", "dealNumber"),
            (
                "generictype_ID_dealType",
                "generictype_ID_opportunityType",
                "generictype_ID_dealType",
            ),
            (
                "dealstep_ID_current",
                "opportunitystep_ID_current",
                "dealstep_ID_current",
            ),
            ("deal_ID_origin", "opportunity_ID_origin", "deal_ID_origin"),
        ] {
            let field = def.field_named(deal_name).expect(deal_name);
            assert_eq!((field.json, field.column), (json, column));
        }
        assert_eq!(def.recode_key(), "internalcodeopportunity");
        assert_eq!(def.forbidden_blocks[0].0, "dealelement");
        assert!(def.children.iter().all(|c| c.generate_code));
    }

    #[test]
    fn the_opportunity_defaults_its_creation_date_and_its_active_status() {
        let def = opportunity();
        let default = |json: &str| def.field(json).and_then(|f| f.default);
        assert_eq!(default("creationDate"), Some(CreateDefault::Today));
        assert_eq!(
            default("generictype_ID_status"),
            Some(CreateDefault::GenericTypeTag {
                datatype: "OPPORTUNITY_STATUS",
                tag: "ACTIVE"
            })
        );
        let step = opportunitystep();
        assert_eq!(
            step.field("stepDate").and_then(|f| f.default),
            Some(CreateDefault::Now)
        );
    }
}
