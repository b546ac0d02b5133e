"""Background jobs as database rows: one abstract ``Job`` model for every long-running thing
(TMDB syncs, model builds), with single-flight, claiming, leases that die with their process,
throttled progress and stale expiry (see ``netflixrecs.jobs.models``)."""
