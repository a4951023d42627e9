-- webhook-worker schema: every table of src/entities/ (customer.rs, reference.rs) plus the
-- worker's idempotency inbox. docs/data-model.md describes the conventions; in short:
--   * one column per field, named exactly as the field's `column` (its JSON name), always
--     double-quoted; Varchar(n) -> varchar(n), Text -> text, Int -> integer,
--     Double -> double precision, Bool -> boolean, Date -> date, DateTime -> timestamp;
--   * the code column is varchar(255) PRIMARY KEY; no other NOT NULL (business columns);
--   * every foreign key of a definition is a real FOREIGN KEY to the target's code,
--     ON UPDATE CASCADE (recoding, SPEC 8.1) and ON DELETE CASCADE for fields marked
--     `.cascade()` (rows that belong to their parent), else ON DELETE NO ACTION (the engine
--     answers CONFLICT first; this is the backstop); generictype fields reference
--     sw_data_generictype(codegenerictype);
--   * a btree index on every foreign key column.
-- Tables come in dependency order; the one cycle (baseuser.customer_ID_subcontractor ->
-- customer -> baseuser) is closed by an ALTER TABLE at the end.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- language
CREATE TABLE sw_sys_language (
    "codelanguage" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- generictype
CREATE TABLE sw_data_generictype (
    "codegenerictype" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "originalCode" varchar(255),
    "dataType" varchar(255),
    "description" text,
    "translationKey" varchar(255),
    "generictype_ID_parent" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "tag" varchar(255),
    "orderNumber" integer
);
CREATE INDEX ON sw_data_generictype ("generictype_ID_parent");

-- currency
CREATE TABLE sw_data_currency (
    "codecurrency" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "symbol" varchar(16)
);

-- pricecategory
CREATE TABLE sw_data_pricecategory (
    "codepricecategory" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- customergroup
CREATE TABLE sw_data_customergroup (
    "codecustomergroup" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- bankholidayparamheader
CREATE TABLE sw_data_bankholidayparamheader (
    "codebankholidayparamheader" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- divinf_t001
CREATE TABLE sw_data_divinf_t001 (
    "codedivinf_t001" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- divinf_t002
CREATE TABLE sw_data_divinf_t002 (
    "codedivinf_t002" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- divinf_t035
CREATE TABLE sw_data_divinf_t035 (
    "codedivinf_t035" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- divinf_t072
CREATE TABLE sw_data_divinf_t072 (
    "codedivinf_t072" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- baseculture
CREATE TABLE sw_data_baseculture (
    "codebaseculture" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "codelanguage" varchar(255)
        REFERENCES sw_sys_language ("codelanguage") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_baseculture ("codelanguage");

-- productdepot
CREATE TABLE sw_data_productdepot (
    "codeproductdepot" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "vehicle" boolean,
    "main" boolean,
    "vehicleRegistration" varchar(255),
    "vehicleBrand" varchar(255),
    "vehicleModel" varchar(255),
    "automaticReception" boolean
);

-- branchoffice
CREATE TABLE sw_data_branchoffice (
    "codebranchoffice" varchar(255) PRIMARY KEY,
    "name" varchar(255),
    "address1" varchar(255),
    "address2" varchar(255),
    "postalCode" varchar(16),
    "city" varchar(64),
    "generictype_ID_country" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "phoneNumber" varchar(64),
    "faxNumber" varchar(64),
    "email" varchar(255),
    "website" varchar(255),
    "bankholidayparamheader_ID" varchar(255)
        REFERENCES sw_data_bankholidayparamheader ("codebankholidayparamheader") ON UPDATE CASCADE ON DELETE NO ACTION,
    "gpsLongitude" double precision,
    "gpsLatitude" double precision,
    "baseusergroup_ID" varchar(255),
    "interventionTeamLifetime" integer
);
CREATE INDEX ON sw_data_branchoffice ("generictype_ID_country");
CREATE INDEX ON sw_data_branchoffice ("bankholidayparamheader_ID");

-- baseuser (customer_ID_subcontractor gets its FOREIGN KEY at the end: cycle)
CREATE TABLE sw_data_baseuser (
    "codebaseuser" varchar(255) PRIMARY KEY,
    "lastName" varchar(255),
    "firstName" varchar(255),
    "initials" varchar(255),
    "email" varchar(255),
    "phoneNumber" varchar(64),
    "faxNumber" varchar(64),
    "address1" varchar(255),
    "address2" varchar(255),
    "postalCode" varchar(16),
    "city" varchar(64),
    "position" varchar(255),
    "department" varchar(255),
    "generictype_ID_country" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_province" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "baseculture_ID" varchar(255)
        REFERENCES sw_data_baseculture ("codebaseculture") ON UPDATE CASCADE ON DELETE NO ACTION,
    "branchoffice_ID" varchar(255)
        REFERENCES sw_data_branchoffice ("codebranchoffice") ON UPDATE CASCADE ON DELETE NO ACTION,
    "resourcetype_ID" varchar(255),
    "supervisor" boolean,
    "useMileageRate" boolean,
    "account" varchar(255),
    "analyticSection" varchar(255),
    "productdepot_ID" varchar(255)
        REFERENCES sw_data_productdepot ("codeproductdepot") ON UPDATE CASCADE ON DELETE NO ACTION,
    "lastGPSDate" timestamp,
    "gpsLongitude" double precision,
    "gpsLatitude" double precision,
    "fullView" boolean,
    "changeAuthorization" boolean,
    "productdepot_ID_current" varchar(255)
        REFERENCES sw_data_productdepot ("codeproductdepot") ON UPDATE CASCADE ON DELETE NO ACTION,
    "techSyncRule" boolean,
    "homePage" varchar(255),
    "teamtype_ID" varchar(255),
    "customer_ID_subcontractor" varchar(255),
    "techIsSedentary" boolean,
    "baseusertree_ID" varchar(255),
    "structureNav" boolean,
    "gpsPrecision" integer,
    "gpsUpdateDate" timestamp,
    "gpsManual" boolean
);
CREATE INDEX ON sw_data_baseuser ("generictype_ID_country");
CREATE INDEX ON sw_data_baseuser ("generictype_ID_province");
CREATE INDEX ON sw_data_baseuser ("baseculture_ID");
CREATE INDEX ON sw_data_baseuser ("branchoffice_ID");
CREATE INDEX ON sw_data_baseuser ("productdepot_ID");
CREATE INDEX ON sw_data_baseuser ("productdepot_ID_current");
CREATE INDEX ON sw_data_baseuser ("customer_ID_subcontractor");

-- customer: customers, prospects and suspects (SPEC 8.1); `dynamicfields` holds the values
-- of the dynamic fields, keyed by field name (SPEC 8.4).
CREATE TABLE sw_data_customer (
    "codecustomer" varchar(255) PRIMARY KEY,
    "name" varchar(255),
    "baseuser_ID" varchar(255)
        REFERENCES sw_data_baseuser ("codebaseuser") ON UPDATE CASCADE ON DELETE NO ACTION,
    "address1" varchar(255),
    "address2" varchar(255),
    "address3" varchar(255),
    "postalCode" varchar(16),
    "city" varchar(64),
    "phoneNumber" varchar(64),
    "faxNumber" varchar(64),
    "mobilePhoneNumber" varchar(64),
    "email" varchar(255),
    "generictype_ID_country" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_province" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_civility" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "baseculture_ID" varchar(255)
        REFERENCES sw_data_baseculture ("codebaseculture") ON UPDATE CASCADE ON DELETE NO ACTION,
    "branchoffice_ID" varchar(255)
        REFERENCES sw_data_branchoffice ("codebranchoffice") ON UPDATE CASCADE ON DELETE NO ACTION,
    "deliveryDays" varchar(255),
    "openingDays" varchar(255),
    "siretNumber" varchar(40),
    "vatIntra" varchar(64),
    "apeCode" varchar(64),
    "comment" text,
    "blocked" boolean,
    "blockedComment" text,
    "message" text,
    "vacationStart" date,
    "vacationEnd" date,
    "gpsLongitude" double precision,
    "gpsLatitude" double precision,
    "accountNumber" varchar(64),
    "contactName" varchar(255),
    "currency_ID" varchar(255)
        REFERENCES sw_data_currency ("codecurrency") ON UPDATE CASCADE ON DELETE NO ACTION,
    "authorizedCredit" boolean,
    "risk" varchar(64),
    "language" varchar(255)
        REFERENCES sw_sys_language ("codelanguage") ON UPDATE CASCADE ON DELETE NO ACTION,
    "underSurveillance" boolean,
    "workforce" integer,
    "customer_ID_paying" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "pricecategory_ID" varchar(255)
        REFERENCES sw_data_pricecategory ("codepricecategory") ON UPDATE CASCADE ON DELETE NO ACTION,
    "discountRate" double precision,
    "website" varchar(255),
    "legalStatus" varchar(64),
    "generictype_ID_brand" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_deliveryMode" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_paymentMean" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_customerFamily" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_customerType" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "confirmationEmail" varchar(255),
    "confirmationFax" varchar(64),
    "generictype_ID_taxCode" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "productdepot_ID" varchar(255)
        REFERENCES sw_data_productdepot ("codeproductdepot") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_accountingCategory" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_customerPotential" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "skype" varchar(255),
    "generictype_ID_role" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "unused" boolean,
    "customergroup_ID" varchar(255)
        REFERENCES sw_data_customergroup ("codecustomergroup") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_referencing" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_distribution" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_market" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "area" double precision,
    "baseuser_ID_favoriteTechnician" varchar(255)
        REFERENCES sw_data_baseuser ("codebaseuser") ON UPDATE CASCADE ON DELETE NO ACTION,
    "emailFormat" varchar(255),
    "isIndividual" boolean,
    "facebook" varchar(255),
    "twitter" varchar(255),
    "youtube" varchar(255),
    "linkedin" varchar(255),
    "activity" text,
    "gpsPrecision" integer,
    "gpsUpdateDate" timestamp,
    "gpsManual" boolean,
    "contactFirstName" varchar(255),
    "closedDate" timestamp,
    "divinf_t035_ID" varchar(255)
        REFERENCES sw_data_divinf_t035 ("codedivinf_t035") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_t072_ID_promotacod" varchar(255)
        REFERENCES sw_data_divinf_t072 ("codedivinf_t072") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_t072_ID_promoremcod" varchar(255)
        REFERENCES sw_data_divinf_t072 ("codedivinf_t072") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_t001_ID_tafam" varchar(255)
        REFERENCES sw_data_divinf_t001 ("codedivinf_t001") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_t001_ID_tafamx" varchar(255)
        REFERENCES sw_data_divinf_t001 ("codedivinf_t001") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_t002_ID_refam" varchar(255)
        REFERENCES sw_data_divinf_t002 ("codedivinf_t002") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_t002_ID_refamx" varchar(255)
        REFERENCES sw_data_divinf_t002 ("codedivinf_t002") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_rem1" double precision,
    "divinf_rem2" double precision,
    "divinf_rem3" double precision,
    "divinf_remtyp1" integer,
    "divinf_remtyp2" integer,
    "divinf_remtyp3" integer,
    "divinf_pricecategory_ID_tarCod" varchar(255)
        REFERENCES sw_data_pricecategory ("codepricecategory") ON UPDATE CASCADE ON DELETE NO ACTION,
    "divinf_dev" varchar(64),
    "divinf_rftctrcod" integer,
    "dynamicfields" jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ON sw_data_customer ("baseuser_ID");
CREATE INDEX ON sw_data_customer ("generictype_ID_country");
CREATE INDEX ON sw_data_customer ("generictype_ID_province");
CREATE INDEX ON sw_data_customer ("generictype_ID_civility");
CREATE INDEX ON sw_data_customer ("baseculture_ID");
CREATE INDEX ON sw_data_customer ("branchoffice_ID");
CREATE INDEX ON sw_data_customer ("currency_ID");
CREATE INDEX ON sw_data_customer ("language");
CREATE INDEX ON sw_data_customer ("customer_ID_paying");
CREATE INDEX ON sw_data_customer ("pricecategory_ID");
CREATE INDEX ON sw_data_customer ("generictype_ID_brand");
CREATE INDEX ON sw_data_customer ("generictype_ID_deliveryMode");
CREATE INDEX ON sw_data_customer ("generictype_ID_paymentMean");
CREATE INDEX ON sw_data_customer ("generictype_ID_customerFamily");
CREATE INDEX ON sw_data_customer ("generictype_ID_customerType");
CREATE INDEX ON sw_data_customer ("generictype_ID_taxCode");
CREATE INDEX ON sw_data_customer ("productdepot_ID");
CREATE INDEX ON sw_data_customer ("generictype_ID_accountingCategory");
CREATE INDEX ON sw_data_customer ("generictype_ID_customerPotential");
CREATE INDEX ON sw_data_customer ("generictype_ID_role");
CREATE INDEX ON sw_data_customer ("customergroup_ID");
CREATE INDEX ON sw_data_customer ("generictype_ID_referencing");
CREATE INDEX ON sw_data_customer ("generictype_ID_distribution");
CREATE INDEX ON sw_data_customer ("generictype_ID_market");
CREATE INDEX ON sw_data_customer ("baseuser_ID_favoriteTechnician");
CREATE INDEX ON sw_data_customer ("divinf_t035_ID");
CREATE INDEX ON sw_data_customer ("divinf_t072_ID_promotacod");
CREATE INDEX ON sw_data_customer ("divinf_t072_ID_promoremcod");
CREATE INDEX ON sw_data_customer ("divinf_t001_ID_tafam");
CREATE INDEX ON sw_data_customer ("divinf_t001_ID_tafamx");
CREATE INDEX ON sw_data_customer ("divinf_t002_ID_refam");
CREATE INDEX ON sw_data_customer ("divinf_t002_ID_refamx");
CREATE INDEX ON sw_data_customer ("divinf_pricecategory_ID_tarCod");

-- customeruser
CREATE TABLE sw_data_customeruser (
    "codecustomeruser" varchar(255) PRIMARY KEY,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE CASCADE,
    "baseuser_ID" varchar(255)
        REFERENCES sw_data_baseuser ("codebaseuser") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_category" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_customeruser ("customer_ID");
CREATE INDEX ON sw_data_customeruser ("baseuser_ID");
CREATE INDEX ON sw_data_customeruser ("generictype_ID_category");

-- dynamicfield
CREATE TABLE sw_data_dynamicfield (
    "codedynamicfield" varchar(255) PRIMARY KEY,
    "entity" varchar(64),
    "fieldname" varchar(64),
    "label" varchar(255),
    "fieldType" varchar(16)
);

-- customercontact
CREATE TABLE sw_data_customercontact (
    "codecustomercontact" varchar(255) PRIMARY KEY,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE CASCADE,
    "lastName" varchar(255),
    "firstName" varchar(255),
    "generictype_ID_civility" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "address1" varchar(255),
    "address2" varchar(255),
    "address3" varchar(255),
    "postalCode" varchar(16),
    "city" varchar(64),
    "phoneNumber" varchar(64),
    "faxNumber" varchar(64),
    "mobilePhoneNumber" varchar(64),
    "email" varchar(255),
    "gpsLongitude" double precision,
    "gpsLatitude" double precision,
    "description" text,
    "generictype_ID_position" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "birthday" timestamp,
    "generictype_ID_country" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_province" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "mainContact" boolean,
    "generictype_ID_service" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "skype" varchar(255),
    "baseculture_ID" varchar(255)
        REFERENCES sw_data_baseculture ("codebaseculture") ON UPDATE CASCADE ON DELETE NO ACTION,
    "bouncedEmailDetected" boolean,
    "closedDate" timestamp,
    "twitter" varchar(255),
    "linkedIn" varchar(255)
);
CREATE INDEX ON sw_data_customercontact ("customer_ID");
CREATE INDEX ON sw_data_customercontact ("generictype_ID_civility");
CREATE INDEX ON sw_data_customercontact ("generictype_ID_position");
CREATE INDEX ON sw_data_customercontact ("generictype_ID_country");
CREATE INDEX ON sw_data_customercontact ("generictype_ID_province");
CREATE INDEX ON sw_data_customercontact ("generictype_ID_service");
CREATE INDEX ON sw_data_customercontact ("baseculture_ID");

-- customeraddress
CREATE TABLE sw_data_customeraddress (
    "codecustomeraddress" varchar(255) PRIMARY KEY,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE CASCADE,
    "name" varchar(255),
    "address1" varchar(255),
    "address2" varchar(255),
    "address3" varchar(255),
    "postalCode" varchar(16),
    "city" varchar(64),
    "phoneNumber" varchar(64),
    "faxNumber" varchar(64),
    "mobilePhoneNumber" varchar(64),
    "email" varchar(255),
    "generictype_ID_country" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_province" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "billingAddress" boolean,
    "defaultBillingAddress" boolean,
    "deliveryAddress" boolean,
    "defaultDeliveryAddress" boolean,
    "areaCode" varchar(64),
    "contact" varchar(64),
    "accessCode" varchar(64),
    "floor" varchar(64),
    "apartment" varchar(64),
    "miscInfos" text,
    "baseuser_ID_favoriteTechnician" varchar(255)
        REFERENCES sw_data_baseuser ("codebaseuser") ON UPDATE CASCADE ON DELETE NO ACTION,
    "branchoffice_ID" varchar(255)
        REFERENCES sw_data_branchoffice ("codebranchoffice") ON UPDATE CASCADE ON DELETE NO ACTION,
    "bankholidayparamheader_ID" varchar(255)
        REFERENCES sw_data_bankholidayparamheader ("codebankholidayparamheader") ON UPDATE CASCADE ON DELETE NO ACTION,
    "baseculture_ID" varchar(255)
        REFERENCES sw_data_baseculture ("codebaseculture") ON UPDATE CASCADE ON DELETE NO ACTION,
    "site" boolean,
    "siteCode" varchar(255),
    "siteName" varchar(255),
    "erpAddressID" varchar(255)
);
CREATE INDEX ON sw_data_customeraddress ("customer_ID");
CREATE INDEX ON sw_data_customeraddress ("generictype_ID_country");
CREATE INDEX ON sw_data_customeraddress ("generictype_ID_province");
CREATE INDEX ON sw_data_customeraddress ("baseuser_ID_favoriteTechnician");
CREATE INDEX ON sw_data_customeraddress ("branchoffice_ID");
CREATE INDEX ON sw_data_customeraddress ("bankholidayparamheader_ID");
CREATE INDEX ON sw_data_customeraddress ("baseculture_ID");

-- customerextension
CREATE TABLE sw_data_customerextension (
    "codecustomerextension" varchar(255) PRIMARY KEY,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE CASCADE,
    "dataQualityIndicator" integer,
    "turnoverN" double precision,
    "turnoverN1" double precision,
    "turnoverN2" double precision,
    "lastOrder" timestamp,
    "lastIntervention" timestamp,
    "openedQuote" integer,
    "credit" double precision,
    "generictype_ID_customerpotential" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "lastVisit" timestamp,
    "companyTurnover" double precision,
    "companyTurnoverDate" timestamp,
    "generictype_ID_companyTurnoverSlice" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_companyWorkforceSlice" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "companyWorkforce" integer,
    "companyWorkforceDate" timestamp,
    "anonymizationDate" timestamp,
    "openedTask" integer
);
CREATE INDEX ON sw_data_customerextension ("customer_ID");
CREATE INDEX ON sw_data_customerextension ("generictype_ID_customerpotential");
CREATE INDEX ON sw_data_customerextension ("generictype_ID_companyTurnoverSlice");
CREATE INDEX ON sw_data_customerextension ("generictype_ID_companyWorkforceSlice");

-- Dynamic-field catalog: one declaration per (entity, fieldname) (SPEC 8.4, 11.9).
ALTER TABLE sw_data_dynamicfield
    ADD CONSTRAINT sw_data_dynamicfield_entity_fieldname_key UNIQUE ("entity", "fieldname");

-- Generictype completion (SPEC 11.7) and LIST by datatype look rows up by these two columns.
CREATE INDEX sw_data_generictype_datatype_originalcode_idx
    ON sw_data_generictype ("dataType", "originalCode");

-- LIST filters `name` (contains), `emailDomain` (ends with), `city` (starts with) use
-- ILIKE patterns, which a trigram index serves.
CREATE INDEX sw_data_customer_name_trgm_idx ON sw_data_customer USING gin ("name" gin_trgm_ops);
CREATE INDEX sw_data_customer_email_trgm_idx ON sw_data_customer USING gin ("email" gin_trgm_ops);
CREATE INDEX sw_data_customer_city_trgm_idx ON sw_data_customer USING gin ("city" gin_trgm_ops);

-- The cycle: a baseuser's subcontractor is a customer, created after sw_data_baseuser.
ALTER TABLE sw_data_baseuser
    ADD CONSTRAINT "sw_data_baseuser_customer_ID_subcontractor_fkey"
    FOREIGN KEY ("customer_ID_subcontractor") REFERENCES sw_data_customer ("codecustomer")
    ON UPDATE CASCADE ON DELETE NO ACTION;

-- Idempotency records (SPEC section 6): the message_id of every applied PUT/DELETE with its
-- reply's outcome, written in the request's transaction; pruned by created_at.
CREATE TABLE webhook_inbox (
    message_id text PRIMARY KEY,
    entity text NOT NULL,
    outcome jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_inbox_created_at_idx ON webhook_inbox (created_at);
