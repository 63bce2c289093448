-- A number per survey wave that grows with every change to what that
-- wave's indices rest on, so that a computed result can be kept and
-- known to be current with one lookup (`Database::data_generation`).
--
-- Kept by triggers, not by the program's write paths: every writer (the
-- server, the CLI in another process, a future instance beside this one)
-- moves it, and no new write path can forget to. Counting rows cannot
-- stand in for it: `import replace` with a corrected file of as many rows
-- deletes the batch and inserts its rows again under the same ids (ids are
-- the largest plus one), so count and largest id stay the same while the
-- answers change; and COUNT(*) reads every index entry of the wave.
--
-- What moves a wave's generation: a response stored, imported, replaced or
-- deleted (responses); a data-quality flag set or removed; the sampling
-- frame or the population margins stored; an import batch added, replaced
-- or deleted (its name and rows are reported with the indices); the wave's
-- stratum question changed (frame designs use it). A version published
-- moves every wave of its survey. Nothing else does: drafts, sign-ins,
-- invitations, partial answers, tokens and settings leave it alone.
--
-- A migration that rebuilds one of these tables drops its triggers with
-- it and must create them again.
CREATE TABLE data_generations (
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (survey_slug, wave)
) WITHOUT ROWID;

INSERT INTO data_generations (survey_slug, wave, generation)
SELECT survey_slug, wave, 1 FROM (
    SELECT survey_slug, wave FROM responses
    UNION SELECT survey_slug, wave FROM frame_strata
    UNION SELECT survey_slug, wave FROM population_margins
    UNION SELECT survey_slug, wave FROM import_batches
    UNION SELECT survey_slug, wave FROM waves
);

CREATE TRIGGER data_generation_response_added AFTER INSERT ON responses
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_response_deleted AFTER DELETE ON responses
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (OLD.survey_slug, OLD.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_response_changed AFTER UPDATE ON responses
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (OLD.survey_slug, OLD.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

-- A flag's response is still there when it is set or removed by itself;
-- when the response goes, its own trigger counts.
CREATE TRIGGER data_generation_flag_set AFTER INSERT ON response_flags
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation)
    SELECT survey_slug, wave, 1 FROM responses WHERE id = NEW.response_id
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_flag_removed AFTER DELETE ON response_flags
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation)
    SELECT survey_slug, wave, 1 FROM responses WHERE id = OLD.response_id
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_flag_changed AFTER UPDATE ON response_flags
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation)
    SELECT survey_slug, wave, 1 FROM responses WHERE id IN (OLD.response_id, NEW.response_id)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_frame_added AFTER INSERT ON frame_strata
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_frame_deleted AFTER DELETE ON frame_strata
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (OLD.survey_slug, OLD.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_frame_changed AFTER UPDATE ON frame_strata
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_margin_added AFTER INSERT ON population_margins
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_margin_deleted AFTER DELETE ON population_margins
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (OLD.survey_slug, OLD.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_margin_changed AFTER UPDATE ON population_margins
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_batch_added AFTER INSERT ON import_batches
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_batch_deleted AFTER DELETE ON import_batches
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (OLD.survey_slug, OLD.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_batch_changed AFTER UPDATE ON import_batches
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

-- Frame designs read the wave's stratum question; its other settings
-- (dates, access, helpline) change no figure.
CREATE TRIGGER data_generation_stratum_question_set AFTER INSERT ON waves
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

CREATE TRIGGER data_generation_stratum_question_changed AFTER UPDATE OF stratum_question ON waves
WHEN OLD.stratum_question IS NOT NEW.stratum_question
BEGIN
    INSERT INTO data_generations (survey_slug, wave, generation) VALUES (NEW.survey_slug, NEW.wave, 1)
    ON CONFLICT (survey_slug, wave) DO UPDATE SET generation = generation + 1;
END;

-- Drafts are nobody's figures: only a published version counts.
CREATE TRIGGER data_generation_version_stored AFTER INSERT ON survey_versions
WHEN NEW.status = 'published'
BEGIN
    UPDATE data_generations SET generation = generation + 1 WHERE survey_slug = NEW.slug;
END;

CREATE TRIGGER data_generation_version_published AFTER UPDATE ON survey_versions
WHEN NEW.status = 'published'
    AND (OLD.status IS NOT 'published' OR OLD.definition IS NOT NEW.definition OR OLD.slug IS NOT NEW.slug)
BEGIN
    UPDATE data_generations SET generation = generation + 1 WHERE survey_slug IN (OLD.slug, NEW.slug);
END;

CREATE TRIGGER data_generation_version_deleted AFTER DELETE ON survey_versions
WHEN OLD.status = 'published'
BEGIN
    UPDATE data_generations SET generation = generation + 1 WHERE survey_slug = OLD.slug;
END;
