-- Model aliases (MLflow-style: `champion`, `challenger`, any name) per model name, and
-- the history of every alias change with who, when and why, so a rollback is a
-- recorded move and every earlier state can be restored.
CREATE TABLE IF NOT EXISTS tt_model_aliases (
  name        text NOT NULL,
  alias       text NOT NULL,
  model_id    bigint NOT NULL REFERENCES tt_models(id),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, alias)
);

CREATE TABLE IF NOT EXISTS tt_model_alias_events (
  id                 bigserial PRIMARY KEY,
  name               text NOT NULL,
  alias              text NOT NULL,
  action             text NOT NULL CHECK (action IN ('set', 'remove', 'rollback', 'restore')),
  -- What the alias points at after the event (null: removed) and before it (null: unset).
  model_id           bigint,
  previous_model_id  bigint,
  -- The event a rollback undid, or a restore re-applied.
  target_event_id    bigint REFERENCES tt_model_alias_events(id),
  who                text NOT NULL,
  why                text,
  at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tt_model_alias_events_idx ON tt_model_alias_events (name, alias, id);
