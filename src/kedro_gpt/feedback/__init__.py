"""User feedback on served answers: what a rating holds (:mod:`.schema`), the database that keeps
it (:mod:`.store`), and what fine-tuning learns from it (:mod:`.examples`)."""
