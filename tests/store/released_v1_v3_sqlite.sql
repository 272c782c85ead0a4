CREATE TABLE airbyte_jobs (
	id INTEGER NOT NULL,
	run_key VARCHAR(500) NOT NULL,
	connection_id VARCHAR(100) NOT NULL,
	job_id BIGINT NOT NULL,
	job_type VARCHAR(32) NOT NULL,
	attached BOOLEAN NOT NULL,
	status VARCHAR(32) NOT NULL,
	finished BOOLEAN NOT NULL,
	rows_committed BIGINT,
	bytes_committed BIGINT,
	created_at DATETIME,
	finished_at DATETIME,
	recorded_at DATETIME NOT NULL, reason TEXT,
	PRIMARY KEY (id),
	CONSTRAINT uq_airbyte_jobs_run_key_job_id UNIQUE (run_key, job_id)
);

CREATE TABLE check_results (
	id INTEGER NOT NULL,
	run_id VARCHAR(36) NOT NULL,
	step_name VARCHAR(200) NOT NULL,
	check_name VARCHAR(200) NOT NULL,
	passed BOOLEAN NOT NULL,
	severity VARCHAR(16) NOT NULL,
	message TEXT,
	details JSON,
	at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE TABLE events (
	id INTEGER NOT NULL,
	run_id VARCHAR(36),
	at DATETIME NOT NULL,
	name VARCHAR(200) NOT NULL,
	level VARCHAR(16) NOT NULL,
	fields JSON,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE INDEX ix_airbyte_jobs_connection_id_status_finished_at ON airbyte_jobs (connection_id, status, finished_at);

CREATE INDEX ix_airbyte_jobs_run_key_id ON airbyte_jobs (run_key, id);

CREATE INDEX ix_check_results_run_id_step_name ON check_results (run_id, step_name);

CREATE INDEX ix_events_run_id_at ON events (run_id, at);

CREATE INDEX ix_runs_pipeline_started_at ON runs (pipeline, started_at);

CREATE INDEX ix_runs_started_at ON runs (started_at);

CREATE INDEX ix_stream_stats_run_id_step_name ON stream_stats (run_id, step_name);

CREATE INDEX ix_sync_claims_holder_run_id ON sync_claims (holder_run_id);

CREATE TABLE runs (
	run_id VARCHAR(36) NOT NULL,
	pipeline VARCHAR(200) NOT NULL,
	run_date DATE,
	started_at DATETIME NOT NULL,
	finished_at DATETIME,
	status VARCHAR(32) NOT NULL,
	exit_code INTEGER,
	host VARCHAR(255),
	argv TEXT,
	scheduler VARCHAR(255), message TEXT,
	PRIMARY KEY (run_id)
);

CREATE TABLE steps (
	id INTEGER NOT NULL,
	run_id VARCHAR(36) NOT NULL,
	step_name VARCHAR(200) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	status VARCHAR(32) NOT NULL,
	started_at DATETIME,
	finished_at DATETIME,
	duration_s FLOAT,
	job_id BIGINT,
	rows BIGINT,
	message TEXT,
	owner VARCHAR(200),
	PRIMARY KEY (id),
	CONSTRAINT uq_steps_run_id_step_name UNIQUE (run_id, step_name),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE TABLE stream_stats (
	id INTEGER NOT NULL,
	run_id VARCHAR(36) NOT NULL,
	step_name VARCHAR(200) NOT NULL,
	job_id BIGINT,
	stream VARCHAR(500) NOT NULL,
	namespace VARCHAR(500),
	records_emitted BIGINT NOT NULL,
	records_committed BIGINT NOT NULL,
	bytes_emitted BIGINT NOT NULL,
	bytes_committed BIGINT NOT NULL,
	records_rejected BIGINT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES runs (run_id) ON DELETE CASCADE
);

CREATE TABLE sync_claims (
	run_key VARCHAR(500) NOT NULL,
	connection_id VARCHAR(100) NOT NULL,
	job_type VARCHAR(32) NOT NULL,
	holder_token VARCHAR(64),
	holder_run_id VARCHAR(36),
	holder_host VARCHAR(255),
	holder_pid INTEGER,
	holder_started FLOAT,
	claimed_at DATETIME,
	lease_until DATETIME,
	intent_at DATETIME,
	intent_seen_max BIGINT,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (run_key)
);

