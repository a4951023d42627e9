//! Customer (seed 004, field order from 001 and 002's `customer` block), table
//! `sw_data_customer`, and its child block `customeruser`. Data only; the rules are in
//! SPEC 8.1 and the one hook (isIndividual's main contact) is at the end of this file.

use futures_util::future::BoxFuture;
use sqlx::PgConnection;

use crate::engine::definition::{
    Child, CreateDefault, EntityDef, Field, Filter, Indicators, LiveCount, Op, Related, Scope,
    Sort, Type,
};
use crate::engine::error::EngineError;
use crate::engine::hooks::{Hook, Written};

/// Every field of `sw_data_customer`, in the seeds' GET extended order (001's extended with
/// the customer's names, then the fields that only 002, 000 or the PUT show).
pub fn fields() -> Vec<Field> {
    use Type::*;
    vec![
        Field::varchar("codecustomer", 255),
        Field::varchar("name", 255),
        Field::fk("baseuser_ID", "baseuser"),
        Field::varchar("address1", 255),
        Field::varchar("address2", 255),
        Field::varchar("address3", 255),
        Field::varchar("postalCode", 16),
        Field::varchar("city", 64),
        Field::varchar("phoneNumber", 64),
        Field::varchar("faxNumber", 64),
        Field::varchar("mobilePhoneNumber", 64),
        Field::varchar("email", 255),
        Field::generictype("generictype_ID_country", "COUNTRY"),
        Field::generictype("generictype_ID_province", "PROVINCE"),
        Field::generictype("generictype_ID_civility", "CIVILITY"),
        Field::fk("baseculture_ID", "baseculture"),
        Field::fk("branchoffice_ID", "branchoffice"),
        Field::varchar("deliveryDays", 255),
        Field::varchar("openingDays", 255),
        Field::varchar("siretNumber", 40),
        Field::varchar("vatIntra", 64),
        Field::varchar("apeCode", 64),
        Field::new("comment", Text),
        Field::new("blocked", Bool),
        Field::new("blockedComment", Text),
        Field::new("message", Text),
        Field::new("vacationStart", Date),
        Field::new("vacationEnd", Date),
        Field::new("gpsLongitude", Double),
        Field::new("gpsLatitude", Double),
        Field::varchar("accountNumber", 64),
        Field::varchar("contactName", 255),
        Field::fk("currency_ID", "currency"),
        Field::new("authorizedCredit", Bool),
        Field::varchar("risk", 64),
        Field::fk("language", "language"),
        Field::new("underSurveillance", Bool),
        Field::new("workforce", Int),
        Field::fk("customer_ID_paying", "customer"),
        Field::fk("pricecategory_ID", "pricecategory"),
        Field::new("discountRate", Double),
        Field::varchar("website", 255),
        Field::varchar("legalStatus", 64),
        Field::generictype("generictype_ID_brand", "BRAND"),
        Field::generictype("generictype_ID_deliveryMode", "DELIVERY_MODE"),
        Field::generictype("generictype_ID_paymentMean", "PAYMENT_MEAN"),
        Field::generictype("generictype_ID_customerFamily", "CUSTOMER_FAMILY"),
        Field::generictype("generictype_ID_customerType", "CUSTOMER_TYPE")
            .default(CreateDefault::Value("CUSTOMER_TYPE-CTC")),
        Field::varchar("confirmationEmail", 255),
        Field::varchar("confirmationFax", 64),
        Field::generictype("generictype_ID_taxCode", "TAX_CUSTOMER"),
        Field::fk("productdepot_ID", "productdepot"),
        Field::generictype("generictype_ID_accountingCategory", "ACCOUNTING_CATEGORY"),
        Field::generictype("generictype_ID_customerPotential", "CUSTOMER_POTENTIAL"),
        Field::varchar("skype", 255),
        Field::generictype("generictype_ID_role", "ROLE"),
        Field::new("unused", Bool),
        Field::fk("customergroup_ID", "customergroup"),
        Field::generictype("generictype_ID_referencing", "PRODUCT_REFERENCING"),
        Field::generictype("generictype_ID_distribution", "DISTRIBUTION"),
        Field::generictype("generictype_ID_market", "MARKET"),
        Field::new("area", Double),
        Field::fk("baseuser_ID_favoriteTechnician", "baseuser"),
        Field::varchar("emailFormat", 255),
        Field::new("isIndividual", Bool),
        Field::varchar("facebook", 255),
        Field::varchar("twitter", 255),
        Field::varchar("youtube", 255),
        Field::varchar("linkedin", 255),
        Field::new("activity", Text),
        // Beyond 001's extended example: 002's customer block, 000's, the LIST filters, DIVINF.
        Field::new("gpsPrecision", Int),
        Field::new("gpsUpdateDate", DateTime),
        Field::new("gpsManual", Bool),
        Field::varchar("contactFirstName", 255),
        Field::new("closedDate", DateTime),
        Field::fk("divinf_t035_ID", "divinf_t035"),
        Field::fk("divinf_t072_ID_promotacod", "divinf_t072"),
        Field::fk("divinf_t072_ID_promoremcod", "divinf_t072"),
        Field::fk("divinf_t001_ID_tafam", "divinf_t001"),
        Field::fk("divinf_t001_ID_tafamx", "divinf_t001"),
        Field::fk("divinf_t002_ID_refam", "divinf_t002"),
        Field::fk("divinf_t002_ID_refamx", "divinf_t002"),
        Field::new("divinf_rem1", Double),
        Field::new("divinf_rem2", Double),
        Field::new("divinf_rem3", Double),
        Field::new("divinf_remtyp1", Int),
        Field::new("divinf_remtyp2", Int),
        Field::new("divinf_remtyp3", Int),
        Field::fk("divinf_pricecategory_ID_tarCod", "pricecategory"),
        Field::varchar("divinf_dev", 64),
        Field::new("divinf_rftctrcod", Int),
    ]
}

/// The customer webhook (queue `webhook.customer`).
pub fn customer() -> EntityDef {
    let mut def = EntityDef::new("customer", "sw_data_customer", fields());
    def.simple = vec![
        "codecustomer",
        "name",
        "baseuser_ID",
        "address1",
        "address2",
        "address3",
        "postalCode",
        "city",
        "phoneNumber",
        "faxNumber",
        "mobilePhoneNumber",
        "email",
        "generictype_ID_country",
        "generictype_ID_province",
        "generictype_ID_civility",
        "baseculture_ID",
        "branchoffice_ID",
    ];
    def.filters = vec![
        Filter::new("codeCustomer", "codecustomer", Op::Equal),
        Filter::new("name", "name", Op::Contains),
        Filter::new("customerType", "generictype_ID_customerType", Op::Equal),
        Filter::new("customerFamily", "generictype_ID_customerFamily", Op::Equal),
        Filter::new("codeCountry", "generictype_ID_country", Op::Equal),
        Filter::new("codeBaseuser", "baseuser_ID", Op::Equal),
        Filter::new("codeBranchoffice", "branchoffice_ID", Op::Equal),
        Filter::new("email", "email", Op::Equal),
        Filter::new("emailDomain", "email", Op::EndsWith),
        Filter::new("siretNumber", "siretNumber", Op::Equal),
        Filter::new("city", "city", Op::StartsWith),
        Filter::new("notClosedBefore", "closedDate", Op::NotClosedBefore),
    ];
    def.sorts = vec![Sort::asc("nameAsc", "name")];
    def.related = vec![
        Related::new(
            "generictype_customerFamily",
            "generictype_ID_customerFamily",
        ),
        Related::new("baseuser", "baseuser_ID"),
        Related::new("generictype_country", "generictype_ID_country"),
        Related::new("generictype_province", "generictype_ID_province"),
        Related::new("baseculture", "baseculture_ID"),
        Related::new("generictype_civility", "generictype_ID_civility"),
        Related::new(
            "baseuser_favoriteTechnician",
            "baseuser_ID_favoriteTechnician",
        ),
        Related::new("branchoffice", "branchoffice_ID"),
        Related::new("productdepot", "productdepot_ID"),
    ];
    def.children = vec![Child::new("customeruser", "customeruser", "customer_ID")];
    // SPEC 8.1 / 11.6: writes CTC and CTE, reads CTC only.
    def.scope = Some(Scope {
        field: "generictype_ID_customerType",
        write: vec!["CUSTOMER_TYPE-CTC", "CUSTOMER_TYPE-CTE"],
        read: vec!["CUSTOMER_TYPE-CTC"],
    });
    def.indicators = Some(Indicators {
        entity: "customerextension",
        field: "customer_ID",
        renames: Vec::new(),
        live: vec![
            LiveCount {
                json: "openedContract",
                entity: "contract",
                field: "customer_ID",
                // Open: no closing date, or one still ahead (contracts have no closed status
                // in the seeds).
                condition: r#"(t."closingDate" IS NULL OR t."closingDate" > LOCALTIMESTAMP)"#,
                after: "lastIntervention",
            },
            LiveCount {
                json: "openedOpportunity",
                entity: "opportunity",
                field: "customer_ID",
                // Active: its status is the OPPORTUNITY_STATUS tagged ACTIVE (SPEC 8.4).
                condition: r#"EXISTS (SELECT 1 FROM sw_data_generictype g WHERE g.codegenerictype = t."generictype_ID_status" AND g.tag = 'ACTIVE')"#,
                after: "openedQuote",
            },
        ],
    });
    def.dynamic_fields = Some("customer");
    // Writes the contact only, and only for individuals.
    def.hooks = vec![Hook::new("isIndividual main contact", main_contact)
        .only_if("isIndividual")
        .keeps_row()];
    def
}

/// `sw_data_customeruser`: users linked to a customer, the `customeruser` block.
pub fn customeruser() -> EntityDef {
    EntityDef::new(
        "customeruser",
        "sw_data_customeruser",
        vec![
            Field::varchar("codecustomeruser", 255),
            Field::fk("customer_ID", "customer").cascade(),
            Field::fk("baseuser_ID", "baseuser"),
            Field::generictype("generictype_ID_category", "CUSTOMERUSER-LINK"),
        ],
    )
}

/// SPEC 8.1: when the customer is a private individual (`isIndividual = 1`), its main
/// contact (`mainContact = 1`) is created if it has none, else updated, from the customer's
/// name, first name, civility, address, phones, email, country and culture. The contact's
/// code is `<codecustomer>-MAIN` when it is created here.
fn main_contact<'a>(
    conn: &'a mut PgConnection,
    written: &'a Written<'a>,
) -> BoxFuture<'a, Result<(), EngineError>> {
    Box::pin(async move {
        // One statement (one round trip): update the main contact, or insert it when the
        // update found none; nothing at all when the customer is not an individual.
        sqlx::query(
            r#"WITH c AS (
                 SELECT * FROM sw_data_customer WHERE codecustomer = $1 AND "isIndividual"
               ), updated AS (
                 UPDATE sw_data_customercontact AS k SET
                   "lastName" = c.name, "firstName" = c."contactFirstName",
                   "generictype_ID_civility" = c."generictype_ID_civility",
                   address1 = c.address1, address2 = c.address2, address3 = c.address3,
                   "postalCode" = c."postalCode", city = c.city,
                   "phoneNumber" = c."phoneNumber", "mobilePhoneNumber" = c."mobilePhoneNumber",
                   "faxNumber" = c."faxNumber", email = c.email,
                   "generictype_ID_country" = c."generictype_ID_country",
                   "generictype_ID_province" = c."generictype_ID_province",
                   "baseculture_ID" = c."baseculture_ID"
                 FROM c
                 WHERE k."customer_ID" = c.codecustomer AND k."mainContact"
                 RETURNING 1
               )
               INSERT INTO sw_data_customercontact
                 (codecustomercontact, "customer_ID", "mainContact", "lastName", "firstName",
                  "generictype_ID_civility", address1, address2, address3, "postalCode", city,
                  "phoneNumber", "mobilePhoneNumber", "faxNumber", email,
                  "generictype_ID_country", "generictype_ID_province", "baseculture_ID")
               SELECT c.codecustomer || '-MAIN', c.codecustomer, TRUE, c.name,
                  c."contactFirstName", c."generictype_ID_civility", c.address1, c.address2,
                  c.address3, c."postalCode", c.city, c."phoneNumber", c."mobilePhoneNumber",
                  c."faxNumber", c.email, c."generictype_ID_country",
                  c."generictype_ID_province", c."baseculture_ID"
               FROM c
               WHERE NOT EXISTS (SELECT 1 FROM updated)"#,
        )
        .bind(written.code)
        .execute(&mut *conn)
        .await
        .map_err(EngineError::Database)?;
        Ok(())
    })
}
