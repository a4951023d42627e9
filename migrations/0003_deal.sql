-- The deal family (seed 003, SPEC 8.4 and 11.10): opportunities live in sw_data_deal with
-- their steps, address links and partners; step types, deal elements and marketing leads
-- are reference tables. Same conventions as 0001 (docs/data-model.md). Contracts (0004) and
-- events reference sw_data_deal and sw_data_dealelement.

-- marketinglead
CREATE TABLE sw_data_marketinglead (
    "codemarketinglead" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "description" text,
    "creationDate" timestamp
);
CREATE INDEX ON sw_data_marketinglead ("customer_ID");

-- dealsteptype: a step type may carry the status its opportunity takes (SPEC 8.4)
CREATE TABLE sw_data_dealsteptype (
    "codedealsteptype" varchar(255) PRIMARY KEY,
    "label" varchar(255),
    "generictype_ID_dealType" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_status" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "orderNumber" integer
);
CREATE INDEX ON sw_data_dealsteptype ("generictype_ID_dealType");
CREATE INDEX ON sw_data_dealsteptype ("generictype_ID_status");

-- deal (the opportunity)
CREATE TABLE sw_data_deal (
    "codedeal" varchar(255) PRIMARY KEY,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "label" varchar(255),
    "creationDate" timestamp,
    "generictype_ID_dealType" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "generictype_ID_status" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "dealNumber" varchar(64),
    "isProject" boolean,
    "description" text,
    "closingDate" timestamp,
    "amount" double precision,
    "probability" integer,
    "generictype_ID_lossReason" varchar(255)
        REFERENCES sw_data_generictype ("codegenerictype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "customer_ID_introducer" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "baseuser_ID" varchar(255)
        REFERENCES sw_data_baseuser ("codebaseuser") ON UPDATE CASCADE ON DELETE NO ACTION,
    "amount2" double precision,
    "lossReasonComment" text,
    "realClosingDate" timestamp,
    -- FOREIGN KEY to sw_data_dealstep below (cycle), deferred: a PUT may name a step that
    -- the same request writes after the opportunity (SPEC 8.4).
    "dealstep_ID_current" varchar(255),
    "deal_ID_origin" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE NO ACTION,
    "manualProbability" boolean,
    "marketinglead_ID_origin" varchar(255)
        REFERENCES sw_data_marketinglead ("codemarketinglead") ON UPDATE CASCADE ON DELETE NO ACTION,
    "customercontact_ID" varchar(255)
        REFERENCES sw_data_customercontact ("codecustomercontact") ON UPDATE CASCADE ON DELETE NO ACTION,
    "externalReference" varchar(255),
    dynamicfields jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ON sw_data_deal ("customer_ID");
CREATE INDEX ON sw_data_deal ("generictype_ID_dealType");
CREATE INDEX ON sw_data_deal ("generictype_ID_status");
CREATE INDEX ON sw_data_deal ("generictype_ID_lossReason");
CREATE INDEX ON sw_data_deal ("customer_ID_introducer");
CREATE INDEX ON sw_data_deal ("baseuser_ID");
CREATE INDEX ON sw_data_deal ("dealstep_ID_current");
CREATE INDEX ON sw_data_deal ("deal_ID_origin");
CREATE INDEX ON sw_data_deal ("marketinglead_ID_origin");
CREATE INDEX ON sw_data_deal ("customercontact_ID");
CREATE INDEX ON sw_data_deal ("dealNumber");
CREATE INDEX ON sw_data_deal ("creationDate");
CREATE INDEX ON sw_data_deal ("externalReference");
CREATE INDEX sw_data_deal_label_trgm ON sw_data_deal USING gin ("label" gin_trgm_ops);

-- dealstep (the opportunity's steps)
CREATE TABLE sw_data_dealstep (
    "codedealstep" varchar(255) PRIMARY KEY,
    "deal_ID" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE CASCADE,
    "stepDate" timestamp,
    "comment" text,
    "dealsteptype_ID" varchar(255)
        REFERENCES sw_data_dealsteptype ("codedealsteptype") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_dealstep ("deal_ID");
CREATE INDEX ON sw_data_dealstep ("dealsteptype_ID");

ALTER TABLE sw_data_deal ADD CONSTRAINT "sw_data_deal_dealstep_ID_current_fkey"
    FOREIGN KEY ("dealstep_ID_current") REFERENCES sw_data_dealstep ("codedealstep")
    ON UPDATE CASCADE ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;

-- customeraddressdeal (the opportunity's address links)
CREATE TABLE sw_data_customeraddressdeal (
    "codecustomeraddressdeal" varchar(255) PRIMARY KEY,
    "deal_ID" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE CASCADE,
    "customeraddress_ID" varchar(255)
        REFERENCES sw_data_customeraddress ("codecustomeraddress") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_customeraddressdeal ("deal_ID");
CREATE INDEX ON sw_data_customeraddressdeal ("customeraddress_ID");

-- dealpartner (SPEC 11.10)
CREATE TABLE sw_data_dealpartner (
    "codedealpartner" varchar(255) PRIMARY KEY,
    "deal_ID" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE CASCADE,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "role" varchar(255)
);
CREATE INDEX ON sw_data_dealpartner ("deal_ID");
CREATE INDEX ON sw_data_dealpartner ("customer_ID");

-- dealelement (elements of a deal; contracts reference them; an opportunity PUT may not
-- carry them, SPEC 8.4)
CREATE TABLE sw_data_dealelement (
    "codedealelement" varchar(255) PRIMARY KEY,
    "deal_ID" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE CASCADE,
    "label" varchar(255),
    "quantity" double precision,
    "amount" double precision
);
CREATE INDEX ON sw_data_dealelement ("deal_ID");
