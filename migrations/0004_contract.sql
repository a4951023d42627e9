-- The contract family (seed 002, SPEC 8.3): contracts, their billing lines and their links to
-- equipments, with the reference tables they point at (contract types, billing frequencies).
-- Same conventions as 0001 (docs/data-model.md): quoted column names as the definitions'
-- `column`s (src/entities/contract.rs), the code varchar(255) PRIMARY KEY, real foreign keys
-- ON UPDATE CASCADE (recoding, SPEC 8.1), ON DELETE CASCADE for rows that belong to their
-- contract (billing lines, equipment links) and NO ACTION otherwise (the engine answers
-- CONFLICT first), a btree index on every foreign key column.

-- contracttype (002's related `contracttype` block)
CREATE TABLE sw_data_contracttype (
    "codecontracttype" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "prefix" varchar(64),
    "numberLength" integer,
    "counter" integer,
    "generictype_ID_badgeColor" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_contracttype ("generictype_ID_badgeColor");

-- frequency (billing and intervention frequencies)
CREATE TABLE sw_data_frequency (
    "codefrequency" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- contract
CREATE TABLE sw_data_contract (
    "codecontract" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "contractNumber" varchar(64),
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_status" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "contracttype_ID" varchar(255)
        REFERENCES sw_data_contracttype ("codecontracttype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "description" text,
    "startDate" timestamp,
    "endDate" timestamp,
    "limitDate" timestamp,
    "amount" double precision,
    -- The intervention types are not served by this build: a plain string.
    "interventiontype_ID" varchar(255),
    "frequency_ID" varchar(255)
        REFERENCES sw_data_frequency ("codefrequency") ON UPDATE CASCADE ON DELETE NO ACTION,
    "dunningDateValue" integer,
    "generictype_ID_dunningDateUnit" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "contract_ID_parent" varchar(255)
        REFERENCES sw_data_contract ("codecontract") ON UPDATE CASCADE ON DELETE NO ACTION,
    "closingDate" timestamp,
    "customerReference" varchar(255),
    "version" integer,
    "amendmentNumber" varchar(64),
    "deal_ID" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE NO ACTION,
    "dealelement_ID" varchar(255)
        REFERENCES sw_data_dealelement ("codedealelement") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_contract ("customer_ID");
CREATE INDEX ON sw_data_contract ("generictype_ID_status");
CREATE INDEX ON sw_data_contract ("contracttype_ID");
CREATE INDEX ON sw_data_contract ("frequency_ID");
CREATE INDEX ON sw_data_contract ("generictype_ID_dunningDateUnit");
CREATE INDEX ON sw_data_contract ("contract_ID_parent");
CREATE INDEX ON sw_data_contract ("deal_ID");
CREATE INDEX ON sw_data_contract ("dealelement_ID");
-- LIST filter `label` (contains) uses an ILIKE pattern, which a trigram index serves.
CREATE INDEX sw_data_contract_label_trgm_idx ON sw_data_contract USING gin ("label" gin_trgm_ops);

-- contractbilling (the contract's child block, SPEC 8.3: goes with its contract)
CREATE TABLE sw_data_contractbilling (
    "codecontractbilling" varchar(255) PRIMARY KEY,
    "contract_ID" varchar(255)
        REFERENCES sw_data_contract ("codecontract") ON UPDATE CASCADE ON DELETE CASCADE,
    "startDate" timestamp,
    "endDate" timestamp,
    "frequency_ID" varchar(255)
        REFERENCES sw_data_frequency ("codefrequency") ON UPDATE CASCADE ON DELETE NO ACTION,
    "workforceIncluded" boolean,
    "partsIncluded" boolean,
    "travelsIncluded" boolean,
    "amount" double precision
);
CREATE INDEX ON sw_data_contractbilling ("contract_ID");
CREATE INDEX ON sw_data_contractbilling ("frequency_ID");

-- contractequipment: which equipments a contract covers (002's LIST filter `codeEquipment`).
-- The equipments themselves are not served by this build: `equipment_ID` is a plain code.
CREATE TABLE sw_data_contractequipment (
    "codecontractequipment" varchar(255) PRIMARY KEY,
    "contract_ID" varchar(255)
        REFERENCES sw_data_contract ("codecontract") ON UPDATE CASCADE ON DELETE CASCADE,
    "equipment_ID" varchar(255)
);
CREATE INDEX ON sw_data_contractequipment ("contract_ID");
CREATE INDEX ON sw_data_contractequipment ("equipment_ID");
