-- The data catalog: projects, vendors and their business associate agreements,
-- principals (people and services), roles with inheritance, role assignments
-- (per project = casbin domain, or organisation-wide) and datasets.

CREATE TABLE projects (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vendors (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A business associate agreement (§164.504(e)). A vendor's principals get
-- nothing an active BAA does not cover.
CREATE TABLE baas (
  id              uuid PRIMARY KEY,
  vendor_id       text NOT NULL REFERENCES vendors(id),
  reference       text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
  effective_on    date NOT NULL,
  expires_on      date NOT NULL,
  purposes        text[] NOT NULL,
  classifications text[] NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (expires_on > effective_on)
);
CREATE INDEX baas_vendor_idx ON baas (vendor_id, effective_on);

CREATE TABLE principals (
  id           uuid PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('user', 'service')),
  name         text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,127}$'),
  display_name text NOT NULL DEFAULT '',
  email        text,
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  sponsor_id   uuid REFERENCES principals(id),
  project_id   text REFERENCES projects(id),
  vendor_id    text REFERENCES vendors(id),
  attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- Every service has a sponsor (a user) and belongs to a project; people have no sponsor.
  CHECK ((kind = 'service' AND sponsor_id IS NOT NULL AND project_id IS NOT NULL)
      OR (kind = 'user' AND sponsor_id IS NULL))
);
CREATE INDEX principals_sponsor_idx ON principals (sponsor_id);
CREATE INDEX principals_page_idx ON principals (created_at, id);

CREATE TABLE roles (
  id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- role_id inherits every permission of parent_id.
CREATE TABLE role_inherits (
  role_id   text NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  parent_id text NOT NULL REFERENCES roles(id),
  PRIMARY KEY (role_id, parent_id),
  CHECK (role_id <> parent_id)
);

CREATE TABLE role_assignments (
  id           uuid PRIMARY KEY,
  principal_id uuid NOT NULL REFERENCES principals(id),
  role_id      text NOT NULL REFERENCES roles(id),
  -- NULL: organisation-wide; otherwise the casbin domain.
  project_id   text REFERENCES projects(id),
  created_by   uuid REFERENCES principals(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (principal_id, role_id, project_id)
);
CREATE INDEX role_assignments_principal_idx ON role_assignments (principal_id);

CREATE TABLE datasets (
  id                   text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
  project_id           text NOT NULL REFERENCES projects(id),
  owner_id             uuid NOT NULL REFERENCES principals(id),
  description          text NOT NULL DEFAULT '',
  purposes             text[] NOT NULL,
  -- [{name, type, category?}] where category is a Safe Harbor identifier category.
  columns              jsonb NOT NULL,
  -- {expert, method, determined_on, expires_on} or NULL.
  expert_determination jsonb,
  -- {reference, signed_on, expires_on} or NULL: the data use agreement of a limited data set.
  data_use_agreement   jsonb,
  audience             text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX datasets_project_idx ON datasets (project_id);
