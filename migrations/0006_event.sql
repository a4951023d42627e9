-- The event (seed 000, SPEC 8.2): sw_data_event and its reference table sw_data_eventtype
-- (src/entities/event.rs). Same conventions as 0001 (docs/data-model.md): quoted column
-- names, real foreign keys ON UPDATE CASCADE (recoding, SPEC 8.1) and ON DELETE NO ACTION
-- (an event is a business record: deleting the customer, user, contact, deal or lead it
-- names is a CONFLICT, answered by the engine first), a btree index on every foreign key.
-- sw_data_deal and sw_data_marketinglead come from 0003.

-- eventtype
CREATE TABLE sw_data_eventtype (
    "codeeventtype" varchar(255) PRIMARY KEY,
    "label" varchar(255)
);

-- event
CREATE TABLE sw_data_event (
    "codeevent" varchar(255) PRIMARY KEY,
    "eventDate" timestamp,
    "comment" text,
    "customer_ID" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION,
    "baseuser_ID" varchar(255)
        REFERENCES sw_data_baseuser ("codebaseuser") ON UPDATE CASCADE ON DELETE NO ACTION,
    "eventtype_ID" varchar(255)
        REFERENCES sw_data_eventtype ("codeeventtype") ON UPDATE CASCADE ON DELETE NO ACTION,
    "customercontact_ID" varchar(255)
        REFERENCES sw_data_customercontact ("codecustomercontact") ON UPDATE CASCADE ON DELETE NO ACTION,
    "deal_ID" varchar(255)
        REFERENCES sw_data_deal ("codedeal") ON UPDATE CASCADE ON DELETE NO ACTION,
    "label" varchar(255),
    "marketinglead_ID" varchar(255)
        REFERENCES sw_data_marketinglead ("codemarketinglead") ON UPDATE CASCADE ON DELETE NO ACTION,
    "gpsLongitude" double precision,
    "gpsLatitude" double precision,
    "customer_ID_dealPartner" varchar(255)
        REFERENCES sw_data_customer ("codecustomer") ON UPDATE CASCADE ON DELETE NO ACTION
);
CREATE INDEX ON sw_data_event ("customer_ID");
CREATE INDEX ON sw_data_event ("baseuser_ID");
CREATE INDEX ON sw_data_event ("eventtype_ID");
CREATE INDEX ON sw_data_event ("customercontact_ID");
CREATE INDEX ON sw_data_event ("deal_ID");
CREATE INDEX ON sw_data_event ("marketinglead_ID");
CREATE INDEX ON sw_data_event ("customer_ID_dealPartner");
-- LIST: `eventDate` (greater or equal, between) and the eventDate orderBys.
CREATE INDEX ON sw_data_event ("eventDate");
-- LIST filters `label` and `comment` (contains) use ILIKE patterns, which a trigram index
-- serves (pg_trgm is created by 0001).
CREATE INDEX sw_data_event_label_trgm ON sw_data_event USING gin ("label" gin_trgm_ops);
CREATE INDEX sw_data_event_comment_trgm ON sw_data_event USING gin ("comment" gin_trgm_ops);
