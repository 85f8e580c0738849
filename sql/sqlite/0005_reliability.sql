-- Issue 15: the proxy's own id is the primary key; a client's x-request-id is kept here.
ALTER TABLE requests ADD COLUMN client_request_id TEXT;
