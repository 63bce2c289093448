# Reference figures for tests/reference/report/SPEC.md, computed with R's
# survey package (R 4.2.2, survey 4.1.1).
#
# usage: Rscript reference.R [DIR]          (DIR: this folder, the default)
# reads  DIR/wave2025.csv DIR/wave2026.csv DIR/lonely.csv DIR/margins.csv
#        DIR/structure.csv                   (written by make_data.py)
# writes DIR/expected.json: one JSON array; every row has
#        figure, dataset, design, by, group, level, id
#        and the numbers of its figure (README.md lists them). 15 significant
#        digits; null = not defined (e.g. CI at df = 0, deff of a constant).
#
# Design of an interview file: svydesign(ids = ~cluster, strata = ~stratum,
# weights = ~w, nest = TRUE), no fpc. Scores per docs/statistics.md §1-§2
# (prep.R). Every domain is a subset of the full design; df of a cell is
# degf() of the design restricted to the cell's respondents with the variable
# present. Confidence level 0.95. Cells with n < 2 are left out.
source_dir <- function() {
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "."
}
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "."
source(file.path(source_dir(), "prep.R"))
options(survey.lonely.psu = "fail")
LEVEL <- 0.95

st <- read_structure(dir)
iv <- index_vars(st)
data <- list(wave2025 = read_wave(file.path(dir, "wave2025.csv"), st),
             wave2026 = read_wave(file.path(dir, "wave2026.csv"), st),
             lonely = read_wave(file.path(dir, "lonely.csv"), st))
marg <- read.csv(file.path(dir, "margins.csv"), colClasses = c("character", "character", "numeric"))
designs <- lapply(data[c("wave2025", "wave2026")], design_of)

rows <- list()
add <- function(...) rows[[length(rows) + 1]] <<- list(...)
qt2 <- function(df) qt(1 - (1 - LEVEL) / 2, df)
ci_t <- function(est, se, df) if (is.na(df) || df < 1) c(NA, NA) else est + c(-1, 1) * qt2(df) * se
domains <- function(des, by = "district") {   # list(list(group, design)), whole sample first
  out <- list(list(by = NA, group = NA, des = des))
  if (!is.null(by)) for (g in sort(unique(des$variables[[by]])))
    out[[length(out) + 1]] <- list(by = by, group = g, des = des[des$variables[[by]] == g, ])
  out
}
present <- function(des, var) weights(des, "sampling") != 0 & !is.na(des$variables[[var]])
fml <- function(v) as.formula(paste0("~", v))
wsum <- function(des, inset) { w <- weights(des, "sampling")[inset]; c(n = length(w), n_eff = sum(w)^2 / sum(w^2), kish = length(w) * sum(w^2) / sum(w)^2) }

# --- means: the figures civicpulse `indices --weights design` publishes -------------
mean_row <- function(des, var, top) {
  inset <- present(des, var)
  n <- sum(inset)
  if (n < 2) return(NULL)
  m <- svymean(fml(var), des, na.rm = TRUE)
  sub <- des[!is.na(des$variables[[var]]), ]
  dfree <- degf(sub)
  est <- as.numeric(coef(m)); se <- as.numeric(SE(m))
  ci <- if (dfree >= 1) as.numeric(confint(m, level = LEVEL, df = dfree)) else c(NA, NA)
  r <- list(n = n, n_eff = wsum(des, inset)[["n_eff"]], estimate = est, se = se, df = dfree,
            ci_low = ci[1], ci_high = ci[2])
  if (!is.na(top)) {
    tm <- svymean(fml(top), sub)
    p <- as.numeric(coef(tm))
    if (p < 1e-12) p <- 0
    if (p > 1 - 1e-12) p <- 1
    tci <- c(NA, NA)
    if (p > 0 && p < 1 && dfree >= 2) {
      tp <- svyciprop(fml(top), sub, method = "logit", level = LEVEL, df = dfree)
      tci <- as.numeric(attr(tp, "ci"))
      if (any(!is.finite(tci)) || any(tci <= 0 | tci >= 1)) tci <- c(NA, NA)
    }
    r$top_box <- list(estimate = p, se = as.numeric(SE(tm)), ci_low = tci[1], ci_high = tci[2])
  }
  r
}
for (ds in names(designs)) for (dm in domains(designs[[ds]])) for (k in seq_len(nrow(iv))) {
  r <- mean_row(dm$des, iv$var[k], iv$top[k])
  if (!is.null(r)) do.call(add, c(list(figure = "means", dataset = ds, design = "design", by = dm$by,
                                       group = dm$group, level = iv$level[k], id = iv$id[k]), r))
}

# --- distribution: svymean of the answer factor (dk included) ---------------------
for (ds in names(designs)) for (dm in domains(designs[[ds]])) for (q in st$question) {
  f <- paste0("f_", q)
  inset <- present(dm$des, f)
  n <- sum(inset)
  if (n < 2) next
  m <- svymean(fml(f), dm$des, na.rm = TRUE)
  dfree <- degf(dm$des[!is.na(dm$des$variables[[f]]), ])
  ci <- if (dfree >= 1) confint(m, level = LEVEL, df = dfree) else NULL
  vals <- levels(dm$des$variables[[f]])
  cnt <- table(dm$des$variables[[f]][inset])
  for (j in seq_along(vals)) {
    add(figure = "distribution", dataset = ds, design = "design", by = dm$by, group = dm$group,
        level = "option", id = q, option = vals[j], n = n, count = as.numeric(cnt[vals[j]]),
        share = as.numeric(coef(m))[j], se = as.numeric(SE(m))[j], df = dfree,
        ci_low = if (is.null(ci)) NA else ci[j, 1], ci_high = if (is.null(ci)) NA else ci[j, 2])
  }
}

# --- total: svytotal of top-two-box indicators and of the domain population --------
for (ds in names(designs)) for (dm in domains(designs[[ds]])) {
  for (v in c("one", paste0("t_", st$question))) {
    inset <- present(dm$des, v)
    n <- sum(inset)
    if (n < 2) next
    tt <- svytotal(fml(v), dm$des, na.rm = TRUE, deff = TRUE)
    dfree <- degf(dm$des[!is.na(dm$des$variables[[v]]), ])
    est <- as.numeric(coef(tt)); se <- as.numeric(SE(tt))
    ci <- ci_t(est, se, dfree)
    add(figure = "total", dataset = ds, design = "design", by = dm$by, group = dm$group,
        level = if (v == "one") "population" else "top_box",
        id = if (v == "one") "population" else sub("^t_", "", v),
        n = n, total = est, se = se, df = dfree, ci_low = ci[1], ci_high = ci[2],
        # the population total has s^2 = 0: R's deff is Inf or a rounding
        # artefact (e.g. 5e31); recorded as null
        deff = if (v == "one") NA else as.numeric(deff(tt)), cv = se / est)
  }
}

# --- deff: R's design effect (default and "replace"), Kish's, cv ------------------
for (ds in names(designs)) for (dm in domains(designs[[ds]])) for (k in seq_len(nrow(iv))) {
  v <- iv$var[k]
  inset <- present(dm$des, v)
  n <- sum(inset)
  if (n < 2) next
  m <- svymean(fml(v), dm$des, na.rm = TRUE, deff = TRUE)
  mr <- svymean(fml(v), dm$des, na.rm = TRUE, deff = "replace")
  ws <- wsum(dm$des, inset)
  add(figure = "deff", dataset = ds, design = "design", by = dm$by, group = dm$group,
      level = iv$level[k], id = iv$id[k], n = n, sum_w = sum(weights(dm$des, "sampling")[inset]),
      estimate = as.numeric(coef(m)), se = as.numeric(SE(m)),
      deff = as.numeric(deff(m)), deff_replace = as.numeric(deff(mr)), deff_kish = ws[["kish"]],
      cv = as.numeric(cv(m)))
}

# --- two_way: district x age_group cells ------------------------------------------
des <- designs$wave2026
for (g in sort(unique(data$wave2026$district))) for (a in sort(unique(data$wave2026$age_group))) {
  cell <- des[des$variables$district == g & des$variables$age_group == a, ]
  for (k in seq_len(nrow(iv))) {
    r <- mean_row(cell, iv$var[k], NA)
    if (!is.null(r)) do.call(add, c(list(figure = "two_way", dataset = "wave2026", design = "design",
                                         by = "district+age_group", group = paste0(g, "|", a),
                                         level = iv$level[k], id = iv$id[k]), r))
  }
}

# --- lonely: lonely.psu options on lonely.csv -------------------------------------
lon <- data$lonely
for (opt in c("fail", "remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = opt)
  ldes <- design_of(lon)
  for (dm in domains(ldes)) {
    for (k in c(seq_len(nrow(iv)), 0)) {
      v <- if (k == 0) "one" else iv$var[k]
      inset <- present(dm$des, v)
      n <- sum(inset)
      if (n < 2) next
      dfree <- degf(dm$des[!is.na(dm$des$variables[[v]]), ])
      res <- tryCatch(if (k == 0) svytotal(~one, dm$des) else svymean(fml(v), dm$des, na.rm = TRUE),
                      error = function(e) conditionMessage(e))
      base <- list(figure = "lonely", dataset = "lonely", design = paste0("lonely.psu=", opt),
                   by = dm$by, group = dm$group, level = if (k == 0) "population" else iv$level[k],
                   id = if (k == 0) "population" else iv$id[k], n = n, df = dfree)
      if (is.character(res)) {
        do.call(add, c(base, list(estimate = NA, se = NA, ci_low = NA, ci_high = NA, error = res)))
      } else {
        est <- as.numeric(coef(res)); se <- as.numeric(SE(res))
        ci <- ci_t(est, se, dfree)
        do.call(add, c(base, list(estimate = est, se = se, ci_low = ci[1], ci_high = ci[2], error = NA)))
      }
    }
  }
}
options(survey.lonely.psu = "fail")

# --- comparisons between the waves ------------------------------------------------
a25 <- data$wave2025; a25$wave <- "2025"
a26 <- data$wave2026; a26$wave <- "2026"
stacked <- rbind(a25, a26)
stacked$stratum <- paste(stacked$wave, stacked$stratum)
stacked$cluster <- paste(stacked$wave, stacked$cluster)
sdes <- design_of(stacked)
df_design <- degf(sdes)
cmp_vars <- rbind(data.frame(level = iv$level, id = iv$id, kind = "score", var = iv$var),
                  data.frame(level = "item", id = st$question, kind = "top_box", var = paste0("t_", st$question)))
groups <- c(NA, sort(unique(stacked$district)))
for (k in seq_len(nrow(cmp_vars))) {
  v <- cmp_vars$var[k]
  # svyby(covmat = TRUE) fails with na.rm = TRUE when v has NAs (SPEC §10):
  # restrict the design to the respondents with v present first.
  sv <- sdes[!is.na(sdes$variables[[v]]), ]
  byw <- svyby(fml(v), ~wave, sv, svymean, covmat = TRUE)
  bywd <- svyby(fml(v), ~wave + district, sv, svymean, covmat = TRUE)
  for (g in groups) {
    one <- function(ds) {
      dd <- designs[[ds]]
      if (!is.na(g)) dd <- dd[dd$variables$district == g, ]
      inset <- present(dd, v)
      if (sum(inset) < 2) return(NULL)
      m <- svymean(fml(v), dd, na.rm = TRUE)
      list(n = sum(inset), est = as.numeric(coef(m)), se = as.numeric(SE(m)),
           df = degf(dd[!is.na(dd$variables[[v]]), ]))
    }
    x1 <- one("wave2025"); x2 <- one("wave2026")
    if (is.null(x1) || is.null(x2)) next
    # (a) the current rule: independent waves, df = min
    diff <- x2$est - x1$est
    se <- sqrt(x1$se^2 + x2$se^2)
    dfm <- min(x1$df, x2$df)
    ci <- ci_t(diff, se, dfm)
    tstat <- diff / se
    add(figure = "compare_minrule", dataset = "wave2025->wave2026", design = "design",
        by = if (is.na(g)) NA else "district", group = g, level = cmp_vars$level[k], id = cmp_vars$id[k],
        kind = cmp_vars$kind[k], n_from = x1$n, n_to = x2$n, estimate_from = x1$est, estimate_to = x2$est,
        se_from = x1$se, se_to = x2$se, df_from = x1$df, df_to = x2$df,
        difference = diff, se = se, df = dfm, ci_low = ci[1], ci_high = ci[2], t = tstat,
        p = if (dfm >= 1 && se > 0) 2 * pt(-abs(tstat), dfm) else NA)
    # (b) the stacked design: one svydesign, wave-specific strata and clusters
    if (is.na(g)) {
      ctr <- svycontrast(byw, quote(`2026` - `2025`))
      cv12 <- vcov(byw)["2025", "2026"]
      dsub <- sv
    } else {
      n1 <- paste0("2025.", g); n2 <- paste0("2026.", g)
      ctr <- svycontrast(bywd, call("-", as.name(n2), as.name(n1)))
      cv12 <- vcov(bywd)[n1, n2]
      dsub <- sv[sv$variables$district == g, ]
    }
    dfd <- degf(dsub)
    est <- as.numeric(coef(ctr)); se <- as.numeric(SE(ctr))
    ci <- if (dfd >= 1) as.numeric(confint(ctr, level = LEVEL, df = dfd)) else c(NA, NA)
    cid <- as.numeric(confint(ctr, level = LEVEL, df = df_design))
    tstat <- est / se
    add(figure = "compare_stacked", dataset = "wave2025+wave2026", design = "stacked",
        by = if (is.na(g)) NA else "district", group = g, level = cmp_vars$level[k], id = cmp_vars$id[k],
        kind = cmp_vars$kind[k], difference = est, se = se, cov_waves = cv12,
        df = dfd, ci_low = ci[1], ci_high = ci[2], t = tstat,
        p = if (dfd >= 1 && se > 0) 2 * pt(-abs(tstat), dfd) else NA,
        df_design = df_design, ci_low_design = cid[1], ci_high_design = cid[2],
        p_design = if (se > 0) 2 * pt(-abs(tstat), df_design) else NA)
  }
}

# --- raking (2026): rake(), calibrate(raking), calibrate(raking, bounds) ----------
d26 <- data$wave2026
qs <- unique(marg$question)
pm <- lapply(qs, function(q) { x <- marg[marg$question == q, ]; r <- data.frame(x$value, x$total); names(r) <- c(q, "Freq"); r })
sm <- lapply(qs, function(q) fml(q))
calf <- as.formula(paste("~", paste(qs, collapse = "+")))
mm <- model.matrix(calf, d26)
pop <- c(`(Intercept)` = sum(marg$total[marg$question == qs[1]]))
for (i in seq_len(nrow(marg))) pop[paste0(marg$question[i], marg$value[i])] <- marg$total[i]
if (!all(colnames(mm) %in% names(pop))) stop("margins lack ", setdiff(colnames(mm), names(pop)))
pop <- pop[colnames(mm)]
# grake's raking calfun with a derivative consistent with its bounds: R's
# cal.raking$dF tests u against (lower-1, upper-1) instead of (log lower,
# log upper) (SPEC §8). Same solution, reached by true Newton steps.
raking_consistent <- make.calfun(
  Fm1 = function(u, bounds) pmin(pmax(exp(u), bounds$lower), bounds$upper) - 1,
  dF = function(u, bounds) ifelse(u < log(bounds$upper) & u > log(bounds$lower), exp(u), 0),
  name = "raking (bounded, consistent derivative)")
BOUNDS <- c(0.5, 2)
raked <- list(
  raked = rake(designs$wave2026, sm, pm, control = list(maxit = 1000, epsilon = 1e-12)),
  raked_calibrate = calibrate(designs$wave2026, calf, population = pop, calfun = "raking",
                              epsilon = 1e-13, maxit = 100),
  raked_bounded = calibrate(designs$wave2026, calf, population = pop, calfun = raking_consistent,
                            bounds = BOUNDS, epsilon = 1e-13, maxit = 100))
builtin <- tryCatch(calibrate(designs$wave2026, calf, population = pop, calfun = "raking", bounds = BOUNDS),
                    error = function(e) NULL)
builtin_tight <- tryCatch(suppressWarnings(calibrate(designs$wave2026, calf, population = pop, calfun = "raking",
                                                     bounds = BOUNDS, epsilon = 1e-13, maxit = 1000)),
                          error = function(e) NULL)
for (nm in names(raked)) {
  rd <- raked[[nm]]
  w <- weights(rd, "sampling"); g <- w / d26$w
  tot <- colSums(mm * w)
  cells <- lapply(qs, function(q) tapply(w, d26[[q]], sum))
  merr <- max(abs(unlist(lapply(seq_along(qs), function(i) cells[[i]][pm[[i]][[qs[i]]]] - pm[[i]]$Freq))))
  summ <- list(figure = nm, dataset = "wave2026",
               design = switch(nm, raked = "rake(district, sex, age_group)",
                               raked_calibrate = "calibrate(~district+sex+age_group, calfun=raking)",
                               raked_bounded = sprintf("calibrate(~district+sex+age_group, calfun=raking, bounds=c(%g, %g))", BOUNDS[1], BOUNDS[2])),
               by = NA, group = NA, level = "weights", id = "weights", n = length(w),
               sum_w = sum(w), w_min = min(w), w_max = max(w),
               w_cv = sqrt(mean((w - mean(w))^2)) / mean(w), deff_kish = length(w) * sum(w^2) / sum(w)^2,
               g_min = min(g), g_max = max(g),
               n_at_lower = if (nm == "raked_bounded") sum(g <= BOUNDS[1] * (1 + 1e-12)) else NA,
               n_at_upper = if (nm == "raked_bounded") sum(g >= BOUNDS[2] * (1 - 1e-12)) else NA,
               max_margin_error = merr, max_margin_rel_error = max(abs(tot - pop) / pop))
  if (nm == "raked_bounded") {
    summ$builtin_default_converged <- !is.null(builtin)
    summ$builtin_default_max_rel_w_diff <- if (is.null(builtin)) NA else max(abs(weights(builtin) / w - 1))
    summ$builtin_tight_max_rel_w_diff <- if (is.null(builtin_tight)) NA else max(abs(weights(builtin_tight) / w - 1))
  }
  do.call(add, summ)
  for (dm in domains(rd)) for (k in seq_len(nrow(iv))) {
    r <- mean_row(dm$des, iv$var[k], NA)
    if (!is.null(r)) do.call(add, c(list(figure = nm, dataset = "wave2026", design = summ$design,
                                         by = dm$by, group = dm$group, level = iv$level[k], id = iv$id[k]), r))
  }
}

con <- file(file.path(dir, "expected.json"), open = "w", encoding = "UTF-8")
writeLines(paste0("[\n", paste(sapply(rows, tojson), collapse = ",\n"), "\n]"), con)
close(con)
fig <- sapply(rows, `[[`, "figure")
cat("rows:", length(rows), "\n")
print(table(factor(fig, levels = unique(fig))))
if (!is.null(warnings())) print(summary(warnings())) else cat("no warnings\n")
