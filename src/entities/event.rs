//! Event (seed 000, SPEC 8.2): table `sw_data_event`, a generic event (call, order, ...)
//! of a customer, and its reference entity `eventtype` (`sw_data_eventtype`, queue
//! `webhook.eventtype`). Data only: `eventDate` defaults to now on create (an empty
//! `eventDate` means "not given", SPEC 11.8).
//!
//! `deal_ID` points at the opportunity webhook's entity (`sw_data_deal`, SPEC 8.4): its
//! related block `deal` is the opportunity's GET extended, with the opportunity's names
//! (SPEC 11.5). The event keeps 000's name `deal_ID` for its own field (11.15 renames only
//! inside the opportunity view).

use crate::engine::definition::{CreateDefault, EntityDef, Field, Filter, Op, Related, Sort, Type};

/// The event webhook and the entities that come with it, dependencies first.
pub fn all() -> Vec<EntityDef> {
    vec![eventtype(), event()]
}

/// The event webhook (queue `webhook.event`): every field of 000's PUT, in 000's GET
/// extended order.
pub fn event() -> EntityDef {
    use Type::*;
    let mut def = EntityDef::new(
        "event",
        "sw_data_event",
        vec![
            Field::varchar("codeevent", 255),
            Field::new("eventDate", DateTime).default(CreateDefault::Now),
            Field::new("comment", Text),
            Field::fk("customer_ID", "customer"),
            Field::fk("baseuser_ID", "baseuser"),
            Field::fk("eventtype_ID", "eventtype"),
            Field::fk("customercontact_ID", "customercontact"),
            Field::fk("deal_ID", "opportunity"),
            Field::varchar("label", 255),
            Field::fk("marketinglead_ID", "marketinglead"),
            Field::new("gpsLongitude", Double),
            Field::new("gpsLatitude", Double),
            Field::fk("customer_ID_dealPartner", "customer"),
        ],
    );
    // 000's simple example.
    def.simple = vec![
        "codeevent",
        "eventDate",
        "comment",
        "customer_ID",
        "baseuser_ID",
        "eventtype_ID",
        "customercontact_ID",
        "deal_ID",
        "label",
        "marketinglead_ID",
    ];
    def.filters = vec![
        Filter::new("codeEvent", "codeevent", Op::Equal),
        Filter::new("label", "label", Op::Contains),
        Filter::new("comment", "comment", Op::Contains),
        Filter::new("eventDate", "eventDate", Op::GreaterOrEqual),
        Filter::new("eventDateBetween", "eventDate", Op::Between),
        Filter::new("codeCustomer", "customer_ID", Op::Equal),
        Filter::new("codeBaseuser", "baseuser_ID", Op::Equal),
        Filter::new("codeCustomerContact", "customercontact_ID", Op::Equal),
        Filter::new("codeDeal", "deal_ID", Op::Equal),
        Filter::new("codeMarketingLead", "marketinglead_ID", Op::Equal),
        Filter::new("codeEventType", "eventtype_ID", Op::Equal),
    ];
    def.sorts = vec![
        Sort::desc("eventDateDesc", "eventDate"),
        Sort::asc("eventDateAsc", "eventDate"),
    ];
    // SPEC 8.2, in 000's order; keys as 000 spells them (`customer_dealPartner`).
    def.related = vec![
        Related::new("customer", "customer_ID"),
        Related::new("baseuser", "baseuser_ID"),
        Related::new("customercontact", "customercontact_ID"),
        Related::new("deal", "deal_ID"),
        Related::new("customer_dealPartner", "customer_ID_dealPartner"),
    ];
    def
}

/// `sw_data_eventtype` (queue `webhook.eventtype`): the types 000's events name
/// (`PhoneCall`, `Order`). 000 shows no block of it: a code and a label, with the LIST
/// filters of every reference entity (SPEC 9).
pub fn eventtype() -> EntityDef {
    let mut def = EntityDef::new(
        "eventtype",
        "sw_data_eventtype",
        vec![
            Field::varchar("codeeventtype", 255),
            Field::varchar("label", 255),
        ],
    );
    def.filters = vec![
        Filter::new("code", "codeeventtype", Op::Equal),
        Filter::new("label", "label", Op::Contains),
    ];
    def
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_defaults_its_date_to_now_and_relates_the_deal_as_an_opportunity() {
        let def = event();
        assert_eq!(
            def.field("eventDate").and_then(|f| f.default),
            Some(CreateDefault::Now)
        );
        let deal = def.field("deal_ID").and_then(|f| f.reference);
        assert_eq!(
            deal,
            Some(crate::engine::definition::Reference::Entity("opportunity"))
        );
        let keys: Vec<_> = def.related.iter().map(|r| r.key).collect();
        assert_eq!(
            keys,
            [
                "customer",
                "baseuser",
                "customercontact",
                "deal",
                "customer_dealPartner"
            ]
        );
    }
}
