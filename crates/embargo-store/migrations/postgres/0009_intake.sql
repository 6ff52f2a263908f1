-- Reports filed to an organisation wait there without a repository: repo_id may be NULL.
ALTER TABLE advisories ALTER COLUMN repo_id DROP NOT NULL;
