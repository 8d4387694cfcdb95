\restrict dbmate

-- Dumped from database version 18.6
-- Dumped by pg_dump version 18.6

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;


--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';


--
-- Name: audit_action; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.audit_action AS ENUM (
    'login',
    'logout',
    'create',
    'update',
    'delete',
    'view'
);


--
-- Name: discount_type; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.discount_type AS ENUM (
    'fixed',
    'percentage'
);


--
-- Name: presale_status; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.presale_status AS ENUM (
    'draft',
    'pending',
    'approved',
    'cancelled',
    'converted'
);


--
-- Name: stock_adjustment_type; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.stock_adjustment_type AS ENUM (
    'add',
    'remove'
);


--
-- Name: user_role; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.user_role AS ENUM (
    'admin',
    'manager',
    'employee'
);


--
-- Name: count_rows_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.count_rows_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  delta bigint;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM row_counts WHERE table_name = TG_TABLE_NAME;
    RETURN NULL;
  ELSIF TG_OP = 'INSERT' THEN
    SELECT count(*) INTO delta FROM new_rows;
  ELSE
    SELECT -count(*) INTO delta FROM old_rows;
  END IF;
  IF delta <> 0 THEN  -- a statement that changed nothing takes no lock
    INSERT INTO row_counts AS c (table_name, shard, n) VALUES (TG_TABLE_NAME, pg_backend_pid() % 64, delta)
      ON CONFLICT (table_name, shard) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END;
$$;


--
-- Name: notify_auth_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.notify_auth_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM pg_notify('auth_changed', '*');
  ELSIF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('auth_changed', OLD.id::text);
  ELSE
    PERFORM pg_notify('auth_changed', NEW.user_id::text);
  END IF;
  RETURN NULL;
END;
$$;


--
-- Name: raise_table_version(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.raise_table_version() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
  changed boolean;
BEGIN
  -- A statement that changed no row (an UPDATE or DELETE that matched nothing) writes nothing here either. Each
  -- transition table is named in a statement of its own: a statement is planned whole, and each trigger has one.
  IF TG_OP = 'TRUNCATE' THEN
    changed := true;
  ELSIF TG_OP = 'DELETE' THEN
    changed := EXISTS (SELECT FROM old_rows);
  ELSE
    changed := EXISTS (SELECT FROM new_rows);
  END IF;
  IF changed THEN
    INSERT INTO table_versions AS v (table_name, shard, version) VALUES (TG_TABLE_NAME, pg_backend_pid() % 64, 1 + floor(random() * 1e15))
      ON CONFLICT (table_name, shard) DO UPDATE SET version = v.version + excluded.version;
  END IF;
  RETURN NULL;
END;
$$;


--
-- Name: set_updated_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit_logs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid,
    user_name character varying(255) NOT NULL,
    action public.audit_action NOT NULL,
    resource character varying(100) NOT NULL,
    resource_id uuid,
    details text,
    ip_address character varying(45),
    user_agent text,
    created_at timestamp without time zone DEFAULT now() NOT NULL
);


--
-- Name: customers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.customers (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name character varying(255) NOT NULL,
    email character varying(255) NOT NULL,
    phone character varying(20) NOT NULL,
    cpf character varying(14) NOT NULL,
    address text,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    CONSTRAINT customers_cpf_format CHECK (((cpf)::text ~ '^[0-9]{11}$'::text))
);


--
-- Name: payment_methods; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.payment_methods (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    code character varying(50) NOT NULL,
    description character varying(255) NOT NULL,
    is_active boolean DEFAULT true NOT NULL,
    created_by uuid,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    CONSTRAINT payment_methods_description_length CHECK (((char_length(btrim((description)::text)) >= 2) AND (char_length(btrim((description)::text)) <= 255)))
);


--
-- Name: presale_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.presale_items (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    presale_id uuid NOT NULL,
    product_id uuid NOT NULL,
    quantity numeric(10,3) NOT NULL,
    unit_price numeric(10,2) NOT NULL,
    total_price numeric(10,2) NOT NULL,
    discount numeric(10,2) DEFAULT 0 NOT NULL,
    discount_type public.discount_type DEFAULT 'fixed'::public.discount_type NOT NULL,
    discount_percentage numeric(5,2) DEFAULT 0 NOT NULL,
    CONSTRAINT presale_items_discount_nonnegative CHECK ((discount >= (0)::numeric)),
    CONSTRAINT presale_items_discount_percentage_range CHECK (((discount_percentage >= (0)::numeric) AND (discount_percentage <= (100)::numeric))),
    CONSTRAINT presale_items_quantity_positive CHECK ((quantity > (0)::numeric)),
    CONSTRAINT presale_items_total_price_nonnegative CHECK ((total_price >= (0)::numeric)),
    CONSTRAINT presale_items_unit_price_nonnegative CHECK ((unit_price >= (0)::numeric))
);


--
-- Name: presales; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.presales (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    customer_id uuid NOT NULL,
    status public.presale_status NOT NULL,
    total numeric(10,2) NOT NULL,
    discount numeric(10,2) DEFAULT 0 NOT NULL,
    notes text,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    discount_type public.discount_type DEFAULT 'fixed'::public.discount_type NOT NULL,
    discount_percentage numeric(5,2) DEFAULT 0 NOT NULL,
    created_by uuid,
    payment_method_id uuid,
    CONSTRAINT presales_discount_nonnegative CHECK ((discount >= (0)::numeric)),
    CONSTRAINT presales_discount_percentage_range CHECK (((discount_percentage >= (0)::numeric) AND (discount_percentage <= (100)::numeric))),
    CONSTRAINT presales_total_nonnegative CHECK ((total >= (0)::numeric))
);


--
-- Name: products; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.products (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    code character varying(50) NOT NULL,
    name character varying(255) NOT NULL,
    unit character varying(20) NOT NULL,
    description text,
    stock integer DEFAULT 0 NOT NULL,
    purchase_price numeric(10,2) NOT NULL,
    sale_price numeric(10,2) NOT NULL,
    sale_type character varying(50) NOT NULL,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    CONSTRAINT products_purchase_price_nonnegative CHECK ((purchase_price >= (0)::numeric)),
    CONSTRAINT products_sale_price_nonnegative CHECK ((sale_price >= (0)::numeric)),
    CONSTRAINT products_stock_nonnegative CHECK ((stock >= 0))
);


--
-- Name: rate_limits; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.rate_limits (
    bucket text NOT NULL,
    key text NOT NULL,
    hits bigint[] NOT NULL,
    expires_at bigint NOT NULL
);


--
-- Name: revoked_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.revoked_tokens (
    jti uuid NOT NULL,
    user_id uuid,
    expires_at timestamp without time zone NOT NULL
);


--
-- Name: row_counts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.row_counts (
    table_name text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL
);


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version character varying NOT NULL
);


--
-- Name: stock_adjustments; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_adjustments (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    product_id uuid NOT NULL,
    adjustment_type public.stock_adjustment_type NOT NULL,
    quantity integer NOT NULL,
    previous_stock integer NOT NULL,
    new_stock integer NOT NULL,
    reason text NOT NULL,
    user_id uuid,
    user_name character varying(255) NOT NULL,
    ip_address character varying(45),
    user_agent text,
    presale_id uuid,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    CONSTRAINT stock_adjustments_quantity_positive CHECK ((quantity > 0)),
    CONSTRAINT stock_adjustments_stock_nonnegative CHECK (((previous_stock >= 0) AND (new_stock >= 0)))
);


--
-- Name: table_versions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.table_versions (
    table_name text NOT NULL,
    shard smallint NOT NULL,
    version numeric NOT NULL
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email character varying(255) NOT NULL,
    password character varying(255) NOT NULL,
    name character varying(255) NOT NULL,
    role public.user_role NOT NULL,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    permissions jsonb,
    tokens_valid_after timestamp without time zone DEFAULT now() NOT NULL
);


--
-- Name: audit_logs audit_logs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_logs
    ADD CONSTRAINT audit_logs_pkey PRIMARY KEY (id);


--
-- Name: customers customers_cpf_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_cpf_key UNIQUE (cpf);


--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);


--
-- Name: payment_methods payment_methods_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_methods
    ADD CONSTRAINT payment_methods_code_key UNIQUE (code);


--
-- Name: payment_methods payment_methods_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_methods
    ADD CONSTRAINT payment_methods_pkey PRIMARY KEY (id);


--
-- Name: presale_items presale_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presale_items
    ADD CONSTRAINT presale_items_pkey PRIMARY KEY (id);


--
-- Name: presales presales_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presales
    ADD CONSTRAINT presales_pkey PRIMARY KEY (id);


--
-- Name: products products_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.products
    ADD CONSTRAINT products_code_key UNIQUE (code);


--
-- Name: products products_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.products
    ADD CONSTRAINT products_pkey PRIMARY KEY (id);


--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket, key);


--
-- Name: revoked_tokens revoked_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.revoked_tokens
    ADD CONSTRAINT revoked_tokens_pkey PRIMARY KEY (jti);


--
-- Name: row_counts row_counts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.row_counts
    ADD CONSTRAINT row_counts_pkey PRIMARY KEY (table_name, shard);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: stock_adjustments stock_adjustments_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_adjustments
    ADD CONSTRAINT stock_adjustments_pkey PRIMARY KEY (id);


--
-- Name: table_versions table_versions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.table_versions
    ADD CONSTRAINT table_versions_pkey PRIMARY KEY (table_name, shard);


--
-- Name: users users_email_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_email_key UNIQUE (email);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: audit_logs_action_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_action_idx ON public.audit_logs USING btree (action);


--
-- Name: audit_logs_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_created_at_idx ON public.audit_logs USING btree (created_at DESC);


--
-- Name: audit_logs_resource_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_resource_idx ON public.audit_logs USING btree (resource, resource_id);


--
-- Name: audit_logs_user_id_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_logs_user_id_created_at_idx ON public.audit_logs USING btree (user_id, created_at DESC);


--
-- Name: customers_cpf_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX customers_cpf_trgm_idx ON public.customers USING gin (cpf public.gin_trgm_ops);


--
-- Name: customers_created_at_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX customers_created_at_id_idx ON public.customers USING btree (created_at, id);


--
-- Name: customers_email_lower_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX customers_email_lower_key ON public.customers USING btree (lower((email)::text));


--
-- Name: customers_email_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX customers_email_trgm_idx ON public.customers USING gin (lower((email)::text) public.gin_trgm_ops);


--
-- Name: customers_name_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX customers_name_id_idx ON public.customers USING btree (name, id);


--
-- Name: customers_name_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX customers_name_trgm_idx ON public.customers USING gin (lower((name)::text) public.gin_trgm_ops);


--
-- Name: payment_methods_created_by_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX payment_methods_created_by_idx ON public.payment_methods USING btree (created_by);


--
-- Name: payment_methods_description_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX payment_methods_description_idx ON public.payment_methods USING btree (description);


--
-- Name: payment_methods_is_active_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX payment_methods_is_active_idx ON public.payment_methods USING btree (is_active);


--
-- Name: presale_items_presale_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presale_items_presale_id_idx ON public.presale_items USING btree (presale_id);


--
-- Name: presale_items_product_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presale_items_product_id_idx ON public.presale_items USING btree (product_id);


--
-- Name: presales_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_created_at_idx ON public.presales USING btree (created_at DESC);


--
-- Name: presales_created_by_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_created_by_idx ON public.presales USING btree (created_by);


--
-- Name: presales_customer_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_customer_id_idx ON public.presales USING btree (customer_id);


--
-- Name: presales_payment_method_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_payment_method_id_idx ON public.presales USING btree (payment_method_id);


--
-- Name: presales_status_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_status_created_at_idx ON public.presales USING btree (status, created_at DESC);


--
-- Name: presales_status_payment_method_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_status_payment_method_created_at_idx ON public.presales USING btree (status, payment_method_id, created_at);


--
-- Name: presales_total_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX presales_total_idx ON public.presales USING btree (total);


--
-- Name: products_code_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_code_trgm_idx ON public.products USING gin (lower((code)::text) public.gin_trgm_ops);


--
-- Name: products_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_created_at_idx ON public.products USING btree (created_at);


--
-- Name: products_description_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_description_trgm_idx ON public.products USING gin (lower(description) public.gin_trgm_ops);


--
-- Name: products_name_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_name_idx ON public.products USING btree (name);


--
-- Name: products_name_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_name_trgm_idx ON public.products USING gin (lower((name)::text) public.gin_trgm_ops);


--
-- Name: products_sale_price_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_sale_price_idx ON public.products USING btree (sale_price);


--
-- Name: products_stock_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX products_stock_idx ON public.products USING btree (stock);


--
-- Name: revoked_tokens_expires_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX revoked_tokens_expires_at_idx ON public.revoked_tokens USING btree (expires_at);


--
-- Name: revoked_tokens_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX revoked_tokens_user_id_idx ON public.revoked_tokens USING btree (user_id);


--
-- Name: stock_adjustments_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_adjustments_created_at_idx ON public.stock_adjustments USING btree (created_at DESC);


--
-- Name: stock_adjustments_presale_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_adjustments_presale_id_idx ON public.stock_adjustments USING btree (presale_id);


--
-- Name: stock_adjustments_product_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_adjustments_product_id_idx ON public.stock_adjustments USING btree (product_id);


--
-- Name: stock_adjustments_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_adjustments_user_id_idx ON public.stock_adjustments USING btree (user_id);


--
-- Name: users_email_lower_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_lower_key ON public.users USING btree (lower((email)::text));


--
-- Name: customers customers_counted_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_counted_delete AFTER DELETE ON public.customers REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: customers customers_counted_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_counted_insert AFTER INSERT ON public.customers REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: customers customers_counted_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_counted_truncate AFTER TRUNCATE ON public.customers FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: customers customers_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_set_updated_at BEFORE UPDATE ON public.customers FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: customers customers_versioned_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_versioned_delete AFTER DELETE ON public.customers REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: customers customers_versioned_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_versioned_insert AFTER INSERT ON public.customers REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: customers customers_versioned_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_versioned_truncate AFTER TRUNCATE ON public.customers FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: customers customers_versioned_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER customers_versioned_update AFTER UPDATE ON public.customers REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: payment_methods payment_methods_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER payment_methods_set_updated_at BEFORE UPDATE ON public.payment_methods FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: presale_items presale_items_versioned_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presale_items_versioned_delete AFTER DELETE ON public.presale_items REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presale_items presale_items_versioned_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presale_items_versioned_insert AFTER INSERT ON public.presale_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presale_items presale_items_versioned_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presale_items_versioned_truncate AFTER TRUNCATE ON public.presale_items FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presale_items presale_items_versioned_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presale_items_versioned_update AFTER UPDATE ON public.presale_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presales presales_counted_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_counted_delete AFTER DELETE ON public.presales REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: presales presales_counted_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_counted_insert AFTER INSERT ON public.presales REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: presales presales_counted_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_counted_truncate AFTER TRUNCATE ON public.presales FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: presales presales_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_set_updated_at BEFORE UPDATE ON public.presales FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: presales presales_versioned_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_versioned_delete AFTER DELETE ON public.presales REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presales presales_versioned_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_versioned_insert AFTER INSERT ON public.presales REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presales presales_versioned_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_versioned_truncate AFTER TRUNCATE ON public.presales FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: presales presales_versioned_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER presales_versioned_update AFTER UPDATE ON public.presales REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: products products_counted_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_counted_delete AFTER DELETE ON public.products REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: products products_counted_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_counted_insert AFTER INSERT ON public.products REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: products products_counted_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_counted_truncate AFTER TRUNCATE ON public.products FOR EACH STATEMENT EXECUTE FUNCTION public.count_rows_changed();


--
-- Name: products products_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_set_updated_at BEFORE UPDATE ON public.products FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: products products_versioned_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_versioned_delete AFTER DELETE ON public.products REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: products products_versioned_insert; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_versioned_insert AFTER INSERT ON public.products REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: products products_versioned_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_versioned_truncate AFTER TRUNCATE ON public.products FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: products products_versioned_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER products_versioned_update AFTER UPDATE ON public.products REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.raise_table_version();


--
-- Name: revoked_tokens revoked_tokens_auth_changed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER revoked_tokens_auth_changed AFTER INSERT ON public.revoked_tokens FOR EACH ROW EXECUTE FUNCTION public.notify_auth_changed();


--
-- Name: users users_auth_changed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_auth_changed AFTER DELETE OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.notify_auth_changed();


--
-- Name: users users_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: users users_truncated_auth_changed; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_truncated_auth_changed AFTER TRUNCATE ON public.users FOR EACH STATEMENT EXECUTE FUNCTION public.notify_auth_changed();


--
-- Name: audit_logs audit_logs_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_logs
    ADD CONSTRAINT audit_logs_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: payment_methods payment_methods_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.payment_methods
    ADD CONSTRAINT payment_methods_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: presale_items presale_items_presale_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presale_items
    ADD CONSTRAINT presale_items_presale_id_fkey FOREIGN KEY (presale_id) REFERENCES public.presales(id) ON DELETE CASCADE;


--
-- Name: presale_items presale_items_product_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presale_items
    ADD CONSTRAINT presale_items_product_id_fkey FOREIGN KEY (product_id) REFERENCES public.products(id);


--
-- Name: presales presales_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presales
    ADD CONSTRAINT presales_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: presales presales_customer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presales
    ADD CONSTRAINT presales_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);


--
-- Name: presales presales_payment_method_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.presales
    ADD CONSTRAINT presales_payment_method_id_fkey FOREIGN KEY (payment_method_id) REFERENCES public.payment_methods(id);


--
-- Name: revoked_tokens revoked_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.revoked_tokens
    ADD CONSTRAINT revoked_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: stock_adjustments stock_adjustments_presale_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_adjustments
    ADD CONSTRAINT stock_adjustments_presale_id_fkey FOREIGN KEY (presale_id) REFERENCES public.presales(id) ON DELETE SET NULL;


--
-- Name: stock_adjustments stock_adjustments_product_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_adjustments
    ADD CONSTRAINT stock_adjustments_product_id_fkey FOREIGN KEY (product_id) REFERENCES public.products(id);


--
-- Name: stock_adjustments stock_adjustments_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_adjustments
    ADD CONSTRAINT stock_adjustments_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- PostgreSQL database dump complete
--

\unrestrict dbmate


--
-- Dbmate schema migrations
--

INSERT INTO public.schema_migrations (version) VALUES
    ('20261126000001'),
    ('20261126000002'),
    ('20261126000003'),
    ('20261126000004'),
    ('20261126000005'),
    ('20261126000006'),
    ('20261126000007'),
    ('20261206000001'),
    ('20261206000002'),
    ('20261206000003'),
    ('20261206000004');
