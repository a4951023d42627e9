//! Reference entities (SPEC section 9): the tables that the customer's foreign keys point at
//! (generictype, baseuser, branchoffice, productdepot, baseculture, language, pricecategory,
//! currency, customergroup, bankholidayparamheader, the divinf tables), the dynamic-field
//! catalog (SPEC 8.4, 11.9) and the customer's own satellite tables (customercontact,
//! customeraddress, customerextension). Each is served by the same engine with its own queue
//! (`webhook.<name>`) and PUT/GET/LIST/DELETE.
//!
//! Data only, like every file of `entities/`. Field order is the order of the seeds' related
//! blocks, because that order is the reply's (SPEC section 10); where two seeds show
//! different key sets for one table, ours is the superset (SPEC 11.5). The table of each
//! entity is created by `migrations/0001_schema.sql`; `docs/data-model.md` lists them.

use crate::engine::definition::{EntityDef, Field, Filter, Op, Type};

/// Every reference entity, dependencies first (the order `import` and the docs use).
pub fn all() -> Vec<EntityDef> {
    vec![
        language(),
        generictype(),
        currency(),
        code_label(
            "pricecategory",
            "sw_data_pricecategory",
            "codepricecategory",
        ),
        code_label(
            "customergroup",
            "sw_data_customergroup",
            "codecustomergroup",
        ),
        code_label(
            "bankholidayparamheader",
            "sw_data_bankholidayparamheader",
            "codebankholidayparamheader",
        ),
        code_label("divinf_t001", "sw_data_divinf_t001", "codedivinf_t001"),
        code_label("divinf_t002", "sw_data_divinf_t002", "codedivinf_t002"),
        code_label("divinf_t035", "sw_data_divinf_t035", "codedivinf_t035"),
        code_label("divinf_t072", "sw_data_divinf_t072", "codedivinf_t072"),
        baseculture(),
        productdepot(),
        branchoffice(),
        baseuser(),
        dynamicfield(),
        customercontact(),
        customeraddress(),
        customerextension(),
    ]
}

/// A reference entity with the LIST filters that every reference entity has: `code` (equal
/// on its code field) and, when it has a label, `label` (contains), then `extra`.
fn reference(
    name: &'static str,
    table: &'static str,
    fields: Vec<Field>,
    extra: Vec<Filter>,
) -> EntityDef {
    let mut def = EntityDef::reference(name, table, fields);
    def.filters.extend(extra);
    def
}

/// A reference entity of a code and a label only.
fn code_label(name: &'static str, table: &'static str, code: &'static str) -> EntityDef {
    reference(
        name,
        table,
        vec![Field::varchar(code, 255), Field::varchar("label", 255)],
        Vec::new(),
    )
}

/// `sw_data_currency`: the target of the customer's `currency_ID` (`EUR`).
fn currency() -> EntityDef {
    reference(
        "currency",
        "sw_data_currency",
        vec![
            Field::varchar("codecurrency", 255),
            Field::varchar("label", 255),
            Field::varchar("symbol", 16),
        ],
        Vec::new(),
    )
}

/// `sw_sys_language`: the target of the customer's `language` and baseculture's
/// `codelanguage` (004's PUT comment names `sw_sys_language.codelanguage`).
fn language() -> EntityDef {
    reference(
        "language",
        "sw_sys_language",
        vec![
            Field::varchar("codelanguage", 255),
            Field::varchar("label", 255),
        ],
        Vec::new(),
    )
}

/// `sw_data_generictype`: every typed list (countries, customer types, ...), one row per
/// full code (`COUNTRY-FR`) of a `dataType`; fields as 004's `generictype_country` block.
/// A generictype foreign key is stored as the full code and rendered as `originalCode`
/// (SPEC section 3, 11.7).
fn generictype() -> EntityDef {
    use Type::*;
    reference(
        "generictype",
        "sw_data_generictype",
        vec![
            Field::varchar("codegenerictype", 255),
            Field::varchar("label", 255),
            Field::varchar("originalCode", 255),
            Field::varchar("dataType", 255),
            Field::new("description", Text),
            Field::varchar("translationKey", 255),
            Field::fk("generictype_ID_parent", "generictype"),
            Field::varchar("tag", 255),
            Field::new("orderNumber", Int),
        ],
        vec![
            Filter::new("dataType", "dataType", Op::Equal),
            Filter::new("originalCode", "originalCode", Op::Equal),
        ],
    )
}

/// `sw_data_baseculture`: 004's `baseculture` block.
fn baseculture() -> EntityDef {
    reference(
        "baseculture",
        "sw_data_baseculture",
        vec![
            Field::varchar("codebaseculture", 255),
            Field::varchar("label", 255),
            Field::fk("codelanguage", "language"),
        ],
        Vec::new(),
    )
}

/// `sw_data_productdepot`: 004's `productdepot` block (a depot or a vehicle).
fn productdepot() -> EntityDef {
    use Type::*;
    reference(
        "productdepot",
        "sw_data_productdepot",
        vec![
            Field::varchar("codeproductdepot", 255),
            Field::varchar("label", 255),
            Field::new("vehicle", Bool),
            Field::new("main", Bool),
            Field::varchar("vehicleRegistration", 255),
            Field::varchar("vehicleBrand", 255),
            Field::varchar("vehicleModel", 255),
            Field::new("automaticReception", Bool),
        ],
        Vec::new(),
    )
}

/// `sw_data_branchoffice`: 004's `branchoffice` block (001 shows the same keys).
fn branchoffice() -> EntityDef {
    use Type::*;
    reference(
        "branchoffice",
        "sw_data_branchoffice",
        vec![
            Field::varchar("codebranchoffice", 255),
            Field::varchar("name", 255),
            Field::varchar("address1", 255),
            Field::varchar("address2", 255),
            Field::varchar("postalCode", 16),
            Field::varchar("city", 64),
            Field::generictype("generictype_ID_country", "COUNTRY"),
            Field::varchar("phoneNumber", 64),
            Field::varchar("faxNumber", 64),
            Field::varchar("email", 255),
            Field::varchar("website", 255),
            Field::fk("bankholidayparamheader_ID", "bankholidayparamheader"),
            Field::new("gpsLongitude", Double),
            Field::new("gpsLatitude", Double),
            Field::varchar("baseusergroup_ID", 255),
            Field::new("interventionTeamLifetime", Int),
        ],
        vec![Filter::new("name", "name", Op::Contains)],
    )
}

/// `sw_data_baseuser`: 004's `baseuser_favoriteTechnician` block, then the keys that only
/// 001's `baseuser` block shows (SPEC 11.5). `resourcetype_ID`, `teamtype_ID` and
/// `baseusertree_ID` point at tables this build does not serve: plain strings.
fn baseuser() -> EntityDef {
    use Type::*;
    reference(
        "baseuser",
        "sw_data_baseuser",
        vec![
            Field::varchar("codebaseuser", 255),
            Field::varchar("lastName", 255),
            Field::varchar("firstName", 255),
            Field::varchar("initials", 255),
            Field::varchar("email", 255),
            Field::varchar("phoneNumber", 64),
            Field::varchar("faxNumber", 64),
            Field::varchar("address1", 255),
            Field::varchar("address2", 255),
            Field::varchar("postalCode", 16),
            Field::varchar("city", 64),
            Field::varchar("position", 255),
            Field::varchar("department", 255),
            Field::generictype("generictype_ID_country", "COUNTRY"),
            Field::generictype("generictype_ID_province", "PROVINCE"),
            Field::fk("baseculture_ID", "baseculture"),
            Field::fk("branchoffice_ID", "branchoffice"),
            Field::varchar("resourcetype_ID", 255),
            Field::new("supervisor", Bool),
            Field::new("useMileageRate", Bool),
            Field::varchar("account", 255),
            Field::varchar("analyticSection", 255),
            Field::fk("productdepot_ID", "productdepot"),
            Field::new("lastGPSDate", DateTime),
            Field::new("gpsLongitude", Double),
            Field::new("gpsLatitude", Double),
            Field::new("fullView", Bool),
            Field::new("changeAuthorization", Bool),
            Field::fk("productdepot_ID_current", "productdepot"),
            Field::new("techSyncRule", Bool),
            Field::varchar("homePage", 255),
            Field::varchar("teamtype_ID", 255),
            Field::fk("customer_ID_subcontractor", "customer"),
            Field::new("techIsSedentary", Bool),
            // Only in 001's `baseuser` block.
            Field::varchar("baseusertree_ID", 255),
            Field::new("structureNav", Bool),
            Field::new("gpsPrecision", Int),
            Field::new("gpsUpdateDate", DateTime),
            Field::new("gpsManual", Bool),
        ],
        vec![
            Filter::new("lastName", "lastName", Op::Contains),
            Filter::new("codeBranchoffice", "branchoffice_ID", Op::Equal),
        ],
    )
}

/// `sw_data_dynamicfield`: the dynamic-field catalog (SPEC 8.4, 11.9). A `v_<fieldname>` key
/// (or a `dynamicFields` pair) is accepted for an entity only when a row of this catalog
/// declares `fieldname` for that `entity` (e.g. `customer`, `CLI40`); (entity, fieldname)
/// is unique in SQL. The values themselves live in the entity's row.
fn dynamicfield() -> EntityDef {
    reference(
        "dynamicfield",
        "sw_data_dynamicfield",
        vec![
            Field::varchar("codedynamicfield", 255),
            Field::varchar("entity", 64),
            Field::varchar("fieldname", 64),
            Field::varchar("label", 255),
            Field::varchar("fieldType", 16),
        ],
        vec![
            Filter::new("entity", "entity", Op::Equal),
            Filter::new("fieldname", "fieldname", Op::Equal),
        ],
    )
}

/// `sw_data_customercontact`: 003's related `customercontact` block, which has the same
/// keys as 000's without 000's `s_*` custom fields. 000 spells `linkedIn`, 003 `linkedin`;
/// input names match case-insensitively (SPEC 11.2), so one field serves both. Goes with its
/// customer on DELETE (SPEC 8.1). isIndividual's main contact is written by customer.rs.
fn customercontact() -> EntityDef {
    use Type::*;
    reference(
        "customercontact",
        "sw_data_customercontact",
        vec![
            Field::varchar("codecustomercontact", 255),
            Field::fk("customer_ID", "customer").cascade(),
            Field::varchar("lastName", 255),
            Field::varchar("firstName", 255),
            Field::generictype("generictype_ID_civility", "CIVILITY"),
            Field::varchar("address1", 255),
            Field::varchar("address2", 255),
            Field::varchar("address3", 255),
            Field::varchar("postalCode", 16),
            Field::varchar("city", 64),
            Field::varchar("phoneNumber", 64),
            Field::varchar("faxNumber", 64),
            Field::varchar("mobilePhoneNumber", 64),
            Field::varchar("email", 255),
            Field::new("gpsLongitude", Double),
            Field::new("gpsLatitude", Double),
            Field::new("description", Text),
            Field::generictype("generictype_ID_position", "POSITION"),
            Field::new("birthday", DateTime),
            Field::generictype("generictype_ID_country", "COUNTRY"),
            Field::generictype("generictype_ID_province", "PROVINCE"),
            Field::new("mainContact", Bool),
            Field::generictype("generictype_ID_service", "SERVICE"),
            Field::varchar("skype", 255),
            Field::fk("baseculture_ID", "baseculture"),
            Field::new("bouncedEmailDetected", Bool),
            Field::new("closedDate", DateTime),
            Field::varchar("twitter", 255),
            Field::varchar("linkedIn", 255),
        ],
        vec![
            Filter::new("codeCustomer", "customer_ID", Op::Equal),
            Filter::new("lastName", "lastName", Op::Contains),
            Filter::new("email", "email", Op::Equal),
        ],
    )
}

/// `sw_data_customeraddress`: 002's `site` block. Its `internalCodeCustomeraddress` and
/// `internalcustomer_ID` are recoding keys, not fields (SPEC 11.4): the first is the
/// engine's `internalcode<entity>`; the second names the customer's code before its own
/// recoding, which `customer_ID` follows through the foreign key by itself, so it is
/// accepted and ignored. Goes with its customer on DELETE (SPEC 8.1).
fn customeraddress() -> EntityDef {
    use Type::*;
    let mut def = reference(
        "customeraddress",
        "sw_data_customeraddress",
        vec![
            Field::varchar("codecustomeraddress", 255),
            Field::fk("customer_ID", "customer").cascade(),
            Field::varchar("name", 255),
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
            Field::new("billingAddress", Bool),
            Field::new("defaultBillingAddress", Bool),
            Field::new("deliveryAddress", Bool),
            Field::new("defaultDeliveryAddress", Bool),
            Field::varchar("areaCode", 64),
            Field::varchar("contact", 64),
            Field::varchar("accessCode", 64),
            Field::varchar("floor", 64),
            Field::varchar("apartment", 64),
            Field::new("miscInfos", Text),
            Field::fk("baseuser_ID_favoriteTechnician", "baseuser"),
            Field::fk("branchoffice_ID", "branchoffice"),
            Field::fk("bankholidayparamheader_ID", "bankholidayparamheader"),
            Field::fk("baseculture_ID", "baseculture"),
            Field::new("site", Bool),
            Field::varchar("siteCode", 255),
            Field::varchar("siteName", 255),
            Field::varchar("erpAddressID", 255),
        ],
        vec![
            Filter::new("codeCustomer", "customer_ID", Op::Equal),
            Filter::new("name", "name", Op::Contains),
        ],
    );
    def.ignored_keys = vec!["internalcustomer_ID"];
    def
}

/// `sw_data_customerextension`: the static figures of the customer's `indicators` block,
/// 004's keys in order without `openedContract` and `openedOpportunity`, which the engine
/// counts live (SPEC 8.1). Goes with its customer on DELETE.
fn customerextension() -> EntityDef {
    use Type::*;
    reference(
        "customerextension",
        "sw_data_customerextension",
        vec![
            Field::varchar("codecustomerextension", 255),
            Field::fk("customer_ID", "customer").cascade(),
            Field::new("dataQualityIndicator", Int),
            Field::new("turnoverN", Double),
            Field::new("turnoverN1", Double),
            Field::new("turnoverN2", Double),
            Field::new("lastOrder", DateTime),
            Field::new("lastIntervention", DateTime),
            Field::new("openedQuote", Int),
            Field::new("credit", Double),
            Field::generictype("generictype_ID_customerpotential", "CUSTOMER_POTENTIAL"),
            Field::new("lastVisit", DateTime),
            Field::new("companyTurnover", Double),
            Field::new("companyTurnoverDate", DateTime),
            Field::generictype(
                "generictype_ID_companyTurnoverSlice",
                "COMPANY_TURNOVER_SLICE",
            ),
            Field::generictype(
                "generictype_ID_companyWorkforceSlice",
                "COMPANY_WORKFORCE_SLICE",
            ),
            Field::new("companyWorkforce", Int),
            Field::new("companyWorkforceDate", DateTime),
            Field::new("anonymizationDate", DateTime),
            Field::new("openedTask", Int),
        ],
        vec![Filter::new("codeCustomer", "customer_ID", Op::Equal)],
    )
}
