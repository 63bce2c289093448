# Reference indices for an invitation wave of the `livability` survey,
# computed with R's survey package.
#
# usage: Rscript reference.R [DIR]      (DIR: this folder, the default)
# reads  DIR/responses.csv  stratum (of the invitation) + one column per question
#        DIR/frame.csv      stratum,population
#        DIR/structure.csv  scored questions: dimension, weights, option scores
# writes DIR/expected.json  one row per (weights, by, level, id, group)
#
# Scores (docs/statistics.md §1-§2): an option's score comes from structure.csv
# (k-point Likert: 100*(x-1)/(k-1); rating 0-10: 10*x); unscored options
# ("dk") and no answer are missing. Top-two box: 1 when the option is one of
# the two highest-scored options, 0 for another scored option, else missing.
# Dimension score: item-weighted mean over the answered items of the
# dimension. Overall: dimension-weighted mean over the in_overall dimensions
# the respondent has (weights renormalised).
# Design weight of a respondent of stratum h: w = N_h / r_h (population over
# respondents of stratum h in the wave); design: ids=~1, strata=~stratum.
suppressMessages(library(survey))
options(survey.lonely.psu = "fail")
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "."

resp <- read.csv(file.path(dir, "responses.csv"), colClasses = "character",
                 check.names = FALSE, na.strings = character(0), encoding = "UTF-8")
frame <- read.csv(file.path(dir, "frame.csv"), colClasses = c("character", "numeric"))
st <- read.csv(file.path(dir, "structure.csv"), colClasses = "character", na.strings = character(0))
st$item_weight <- as.numeric(st$item_weight)

d <- resp
items <- st$question
for (j in seq_along(items)) {
  q <- items[j]
  vals <- strsplit(st$values[j], ";", fixed = TRUE)[[1]]
  sc <- suppressWarnings(as.numeric(strsplit(st$scores[j], ";", fixed = TRUE)[[1]]))
  ans <- d[[q]]
  bad <- ans != "" & !(ans %in% vals)
  if (any(bad)) stop("question ", q, ": unknown value(s) ", paste(unique(ans[bad]), collapse = ", "))
  s <- sc[match(ans, vals)]                    # NA: no answer or unscored option
  top <- sort(sc[!is.na(sc)], decreasing = TRUE)[2]
  d[[paste0("s_", q)]] <- s
  d[[paste0("t_", q)]] <- ifelse(is.na(s), NA, as.numeric(s >= top))
}

wmean_rows <- function(m, w) {  # row-wise weighted mean over non-missing columns
  ok <- !is.na(m)
  num <- rowSums(ifelse(ok, m, 0) * rep(w, each = nrow(m)))
  den <- rowSums(ok * rep(w, each = nrow(m)))
  ifelse(den > 0, num / den, NA)
}
has_dim <- st$dimension != ""
dims <- unique(st$dimension[has_dim])
for (dm in dims) {
  sel <- has_dim & st$dimension == dm
  m <- as.matrix(d[, paste0("s_", st$question[sel]), drop = FALSE])
  d[[paste0("d_", dm)]] <- wmean_rows(m, st$item_weight[sel])
}
dim_w <- sapply(dims, function(dm) as.numeric(st$dimension_weight[has_dim & st$dimension == dm][1]))
dim_in <- sapply(dims, function(dm) st$in_overall[has_dim & st$dimension == dm][1] == "TRUE")
od <- dims[dim_in]
d$overall <- wmean_rows(as.matrix(d[, paste0("d_", od), drop = FALSE]), dim_w[dim_in])

# Design weights from the invitation stratum (not the district answered).
r_h <- table(d$stratum)
if (!setequal(names(r_h), frame$stratum)) stop("strata of responses.csv and frame.csv differ")
N_h <- setNames(frame$population, frame$stratum)
d$w <- as.numeric(N_h[d$stratum]) / as.numeric(r_h[d$stratum])

designs <- list()
designs$none <- svydesign(ids = ~1, data = d, weights = rep(1, nrow(d)))
designs$design <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, data = d)

rows <- list()
emit <- function(wname, by, level, id, group, des, var, topvar = NULL) {
  y <- des$variables[[var]]
  inset <- weights(des, "sampling") != 0 & !is.na(y)
  n <- sum(inset)
  if (n < 2) return(invisible())
  f <- as.formula(paste0("~", var))
  m <- svymean(f, des, na.rm = TRUE)
  sub <- des[!is.na(y), ]
  dfree <- degf(sub)
  est <- as.numeric(coef(m)); se <- as.numeric(SE(m))
  ci <- as.numeric(confint(m, level = 0.95, df = dfree))
  w <- weights(des, "sampling")[inset]
  row <- list(weights = wname, by = by, level = level, id = id, group = group, n = n,
              n_eff = sum(w)^2 / sum(w^2), estimate = est, se = se, df = dfree,
              ci_low = ci[1], ci_high = ci[2])
  if (!is.null(topvar)) {
    p <- as.numeric(coef(svymean(as.formula(paste0("~", topvar)), sub)))
    # svymean sums normalised weights, so an all-1 (all-0) domain can come
    # out a rounding error away from 1 (0): that is the boundary case.
    if (p < 1e-12) p <- 0
    if (p > 1 - 1e-12) p <- 1
    tci <- c(NA, NA)
    if (p > 0 && p < 1) {  # svyciprop's logit CI is undefined at 0 and 1
      tp <- svyciprop(as.formula(paste0("~", topvar)), sub, method = "logit", level = 0.95, df = dfree)
      p <- as.numeric(tp)
      tci <- as.numeric(attr(tp, "ci"))
      # With df = 1 svyciprop turns the t quantile into a normal level that
      # rounds to 1 (confint.svyglm), giving bounds 0 and NaN: not a CI.
      if (any(!is.finite(tci)) || any(tci <= 0 | tci >= 1)) tci <- c(NA, NA)
    }
    row$top_box <- list(estimate = p, ci_low = tci[1], ci_high = tci[2])
  }
  rows[[length(rows) + 1]] <<- row
}
for (wname in names(designs)) {
  des <- designs[[wname]]
  for (by in c(NA, "district", "age_group")) {
    groups <- if (is.na(by)) NA else sort(unique(d[[by]]))
    for (g in groups) {
      dd <- if (is.na(g)) des else des[des$variables[[by]] == g, ]
      emit(wname, by, "overall", "overall", g, dd, "overall")
      for (dm in dims) emit(wname, by, "dimension", dm, g, dd, paste0("d_", dm))
      for (q in items) emit(wname, by, "item", q, g, dd, paste0("s_", q), paste0("t_", q))
    }
  }
}
num <- function(x) trimws(formatC(x, digits = 15, format = "g"))
tojson <- function(x) {
  if (is.list(x)) {
    paste0("{", paste(sprintf('"%s":%s', names(x), sapply(x, tojson)), collapse = ","), "}")
  } else if (length(x) == 1 && is.na(x)) "null"
  else if (is.character(x)) sprintf('"%s"', x)
  else num(x)
}
con <- file(file.path(dir, "expected.json"), open = "w", encoding = "UTF-8")
writeLines(paste0("[\n", paste(sapply(rows, tojson), collapse = ",\n"), "\n]"), con)
close(con)
cat("rows:", length(rows), "\n")
if (!is.null(warnings())) print(summary(warnings()))
