-- Sessions are touched on every authenticated request; announcing each touch
-- emptied every replica's fact caches constantly. Decisions do not read
-- sessions, so they need no notification.
DROP TRIGGER sessions_notify ON sessions;
