# The benchmark's computation in R's survey package, for the speed ratio in
# the closing note: overall, dimension and item indices (with the top-two
# box) for the whole sample and by district, raked to the population margins.
# usage: Rscript benches/r_compare.R target/bench-data/livability-100000.csv target/bench-data/margins.csv
suppressMessages(library(survey))
options(survey.lonely.psu = "fail")
args <- commandArgs(trailingOnly = TRUE)
t_read <- system.time({
  d <- read.csv(args[1], colClasses = "character", check.names = FALSE)
  marg <- read.csv(args[2], colClasses = c("character", "character", "numeric"))
})
dims <- list(
  safety = c("safety_night", "safety_traffic", "safety_disaster", "safety_food"),
  convenience = c("conv_shops", "conv_medical", "conv_school", "conv_elderly"),
  nature = c("nature_air", "nature_green", "nature_coast", "nature_noise"),
  culture = c("culture_heritage", "culture_venues", "culture_community", "culture_inclusion", "foreign_services"),
  mobility = c("mob_transit", "mob_walking", "mob_parking", "mob_commute"),
  appearance = c("appearance_skyline", "appearance_streets", "appearance_character", "appearance_night"),
  pride = c("pride_proud", "pride_belong", "pride_recommend", "pride_future"))
dim_w <- c(safety = 0.25, convenience = 0.25, nature = 0.2, culture = 0.1, mobility = 0.2)
t_compute <- system.time({
  items <- intersect(unlist(dims), names(d))
  for (q in items) {
    x <- suppressWarnings(as.numeric(d[[q]]))
    d[[paste0("s_", q)]] <- 100 * (x - 1) / 4
    d[[paste0("t_", q)]] <- ifelse(is.na(x), NA, as.numeric(x >= 4))
  }
  wmean_rows <- function(m, w) {
    ok <- !is.na(m); num <- rowSums(ifelse(ok, m, 0) * rep(w, each = nrow(m))); den <- rowSums(ok * rep(w, each = nrow(m)))
    ifelse(den > 0, num / den, NA)
  }
  for (dm in names(dims)) {
    qs <- intersect(dims[[dm]], items)
    iw <- ifelse(seq_along(qs) == 1 & dm %in% names(dim_w), 2, 1)
    d[[paste0("d_", dm)]] <- wmean_rows(as.matrix(d[, paste0("s_", qs), drop = FALSE]), iw)
  }
  d$overall <- wmean_rows(as.matrix(d[, paste0("d_", names(dim_w))]), dim_w)
  d$w <- as.numeric(d$`_weight`)
  des <- svydesign(ids = ~`_cluster`, strata = ~`_stratum`, weights = ~w, data = d, nest = TRUE)
  pm <- lapply(unique(marg$question), function(q) { x <- marg[marg$question == q, ]; df <- data.frame(x$value, x$total); names(df) <- c(q, "Freq"); df })
  sm <- lapply(unique(marg$question), function(q) as.formula(paste0("~", q)))
  raked <- rake(des, sm, pm, control = list(maxit = 1000, epsilon = 1e-12))
  vars <- c("overall", paste0("d_", names(dims)), paste0("s_", items))
  out <- 0
  for (v in vars) {
    f <- as.formula(paste0("~", v))
    m <- svymean(f, raked, na.rm = TRUE); out <- out + 1
    b <- svyby(f, ~district, raked, svymean, na.rm = TRUE); out <- out + nrow(b)
  }
  for (q in items) {
    f <- as.formula(paste0("~t_", q))
    sub <- subset(raked, !is.na(raked$variables[[paste0("t_", q)]]))
    p <- svyciprop(f, sub, method = "logit"); out <- out + 1
    b <- svyby(f, ~district, sub, svyciprop, method = "logit", vartype = "ci"); out <- out + nrow(b)
  }
})
cat(sprintf("R survey %s: %d rows read in %.2f s; %d figures computed in %.2f s\n",
  packageVersion("survey"), nrow(d), t_read[["elapsed"]], out, t_compute[["elapsed"]]))
