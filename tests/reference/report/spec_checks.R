# Numerical checks of every formula in SPEC.md: each R result is recomputed
# by hand (plain sums, no survey functions) and the largest relative
# difference is printed. Also prints the worked examples and R's behaviour in
# the edge cases (errors, warnings, NaN) that SPEC.md quotes.
#
# usage: Rscript spec_checks.R [DIR] > spec_checks.txt   (DIR: this folder)
source_dir <- function() {
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "."
}
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "."
source(file.path(source_dir(), "prep.R"))
options(survey.lonely.psu = "fail", width = 110)
`%||%` <- function(a, b) if (is.null(a)) b else a
st <- read_structure(dir)
d26 <- read_wave(file.path(dir, "wave2026.csv"), st)
d25 <- read_wave(file.path(dir, "wave2025.csv"), st)
lon <- read_wave(file.path(dir, "lonely.csv"), st)
des <- design_of(d26)

# relative difference; 0 when both are a rounding residue of an exact 0 (|a - b| <= 1e-12)
maxrel <- function(a, b) { a <- as.numeric(a); b <- as.numeric(b); m <- pmax(abs(a), abs(b)); max(ifelse(m == 0 | abs(a - b) <= 1e-12, 0, abs(a - b) / m)) }
chk <- function(what, a, b) cat(sprintf("%-72s max rel diff %.2e\n", what, maxrel(a, b)))
section <- function(s) cat("\n==== ", s, " ====\n", sep = "")
catch <- function(expr) {
  msgs <- character(0)
  val <- withCallingHandlers(tryCatch(expr, error = function(e) { msgs <<- c(msgs, paste("ERROR:", conditionMessage(e))); NULL }),
                             warning = function(w) { msgs <<- c(msgs, paste("WARNING:", conditionMessage(w))); invokeRestart("muffleWarning") })
  list(value = val, msgs = unique(msgs))
}

# ---- the hand-made estimator (SPEC §0) --------------------------------------------
# z: linearised values over the WHOLE sample (0 outside the domain).
# present: respondents of the domain with y present (decides which strata are
# "in the domain" for lonely = "average").
psu_var <- function(z, stratum, cluster, lonely = "fail", present = rep(TRUE, length(z))) {
  cl <- paste(stratum, cluster)
  zc <- tapply(z, cl, sum)
  sc <- tapply(stratum, cl, function(s) s[1])
  V <- 0; H <- 0; L <- 0
  for (h in unique(stratum)) {
    zh <- zc[sc == h]; nh <- length(zh)
    inD <- any(present & stratum == h)
    H <- H + inD
    if (nh > 1) V <- V + nh / (nh - 1) * sum((zh - mean(zh))^2)
    else if (inD) {
      L <- L + 1
      if (lonely == "fail") stop("lonely")
      if (lonely == "adjust") V <- V + zh^2
    }
  }
  if (lonely == "average") V <- V * H / (H - L)
  V
}
dom_mean <- function(d, y, domain, lonely = "fail") {
  S <- domain & !is.na(y)
  W <- sum(d$w[S]); Y <- sum(d$w[S] * y[S]) / W
  z <- ifelse(S, d$w * (y - Y) / W, 0)
  c(est = Y, se = sqrt(psu_var(z, d$stratum, d$cluster, lonely, S)),
    df = length(unique(d$cluster[S])) - length(unique(d$stratum[S])))
}
dom_total <- function(d, y, domain, lonely = "fail") {
  S <- domain & !is.na(y)
  z <- ifelse(S, d$w * y, 0)
  c(est = sum(z), se = sqrt(psu_var(z, d$stratum, d$cluster, lonely, S)))
}

section("1. svymean of a factor (shares incl. dk), SE, confint(df = degf(subset))")
a <- b <- NULL
for (g in c(NA, sort(unique(d26$district)))) for (q in st$question) {
  dom <- if (is.na(g)) rep(TRUE, nrow(d26)) else d26$district == g
  f <- d26[[paste0("f_", q)]]
  if (sum(dom & !is.na(f)) < 2) next
  dd <- if (is.na(g)) des else subset(des, district == g)
  m <- svymean(as.formula(paste0("~f_", q)), dd, na.rm = TRUE)
  dfree <- degf(dd[!is.na(dd$variables[[paste0("f_", q)]]), ])
  ci <- confint(m, df = dfree)
  for (j in seq_along(levels(f))) {
    x <- ifelse(is.na(f), NA, as.numeric(f == levels(f)[j]))
    r <- dom_mean(d26, x, dom)
    tq <- qt(0.975, r[["df"]])
    a <- rbind(a, c(coef(m)[j], SE(m)[j], dfree, if (dfree > 0) ci[j, ] else c(0, 0)))
    b <- rbind(b, c(r[["est"]], r[["se"]], r[["df"]], if (dfree > 0) r[["est"]] + c(-1, 1) * tq * r[["se"]] else c(0, 0)))
  }
}
chk(sprintf("share, se, df, ci of %d (domain, item, option) cells vs hand formula", nrow(a)), a, b)
m <- svymean(~f_foreign_services, subset(des, district == "gaoqu"), na.rm = TRUE)
cat("option nobody chose (foreign_services in gaoqu, 2026):\n"); print(cbind(share = coef(m), se = SE(m), cv = cv(m)))
m <- svymean(~f_foreign_services, subset(des, district == "gaoqu"), na.rm = TRUE, deff = TRUE)
cat("their deff:", format(deff(m)), "\n")

section("2. svytotal: numeric, indicator, population of a domain")
a <- b <- NULL
for (g in c(NA, sort(unique(d26$district)))) for (v in c("one", "s_mob_parking", "t_mob_parking", "t_foreign_services")) {
  dom <- if (is.na(g)) rep(TRUE, nrow(d26)) else d26$district == g
  if (sum(dom & !is.na(d26[[v]])) < 2) next
  dd <- if (is.na(g)) des else subset(des, district == g)
  t1 <- svytotal(as.formula(paste0("~", v)), dd, na.rm = TRUE)
  a <- rbind(a, c(coef(t1), SE(t1))); b <- rbind(b, dom_total(d26, d26[[v]], dom))
}
chk(sprintf("total and se of %d (domain, variable) cells vs hand formula", nrow(a)), a, b)

section("3. deff (R: without replacement, N = domain sum of w) and Kish")
a <- b <- NULL
for (g in c(NA, sort(unique(d26$district)))) for (v in c("overall", "d_mobility", "s_mob_parking", "s_foreign_services")) {
  dom <- if (is.na(g)) rep(TRUE, nrow(d26)) else d26$district == g
  S <- dom & !is.na(d26[[v]])
  if (sum(S) < 2) next
  dd <- if (is.na(g)) des else subset(des, district == g)
  f <- as.formula(paste0("~", v))
  m <- svymean(f, dd, na.rm = TRUE, deff = TRUE); mr <- svymean(f, dd, na.rm = TRUE, deff = "replace")
  tt <- svytotal(f, dd, na.rm = TRUE, deff = TRUE)
  w <- d26$w[S]; y <- d26[[v]][S]; n <- length(w); N <- sum(w); yb <- sum(w * y) / N
  s2 <- sum(w * (y - yb)^2) / N * n / (n - 1)
  V <- SE(m)^2
  a <- rbind(a, c(deff(m), deff(mr), deff(tt), cv(m)))
  b <- rbind(b, c(V / ((1 - n / N) * s2 / n), V / (s2 / n), SE(tt)^2 / (N^2 * (1 - n / N) * s2 / n), SE(m) / coef(m)))
}
chk(sprintf("deff (mean, mean 'replace', total) and cv of %d cells vs hand formula", nrow(a)), a, b)
m <- svymean(~overall, des, deff = TRUE); w <- d26$w
cat(sprintf("worked example, overall 2026: se %.6f, R deff %.6f, deff 'replace' %.6f, Kish n*sum(w^2)/sum(w)^2 %.6f, n %d, N %.0f\n",
            SE(m), deff(m), deff(svymean(~overall, des, deff = "replace")), length(w) * sum(w^2) / sum(w)^2, length(w), sum(w)))
cat("svytotal(~one, domain, deff=TRUE) deff:", deff(svytotal(~one, subset(des, district == "gaoqu"), deff = TRUE)), "\n")

section("5. svyby(~y, ~district+age_group) = one domain per cell; confint(svyby) df")
mx <- 0
for (v in c("overall", "d_safety", "s_mob_parking", "s_overall_rating")) {
  by <- svyby(as.formula(paste0("~", v)), ~district + age_group, des, svymean, na.rm = TRUE)
  for (i in seq_len(nrow(by))) {
    s <- svymean(as.formula(paste0("~", v)), subset(des, district == by$district[i] & age_group == by$age_group[i]), na.rm = TRUE)
    mx <- max(mx, maxrel(c(by[i, v], by$se[i]), c(coef(s), SE(s))))
  }
}
cat(sprintf("svyby cells vs svymean(subset): max rel diff %.2e\n", mx))
by <- svyby(~overall, ~district, des, svymean)
cat("confint(svyby) with default df uses the normal quantile (df = Inf):",
    maxrel(confint(by)[, 2], coef(by) + qnorm(0.975) * SE(by)), "(rel diff to qnorm interval)\n")

section("6. lonely PSU (lonely.csv: nanhai has 1 cluster; gaoqu domain uses 1 of 2 wendeng clusters)")
for (opt in c("fail", "remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = opt)
  ldes <- design_of(lon)
  a <- b <- NULL; errs <- 0; errs_hand <- 0
  for (g in c(NA, sort(unique(lon$district)))) for (v in c("overall", "d_culture", "s_mob_parking", "s_foreign_services", "one")) {
    dom <- if (is.na(g)) rep(TRUE, nrow(lon)) else lon$district == g
    if (sum(dom & !is.na(lon[[v]])) < 2) next
    dd <- if (is.na(g)) ldes else subset(ldes, district == g)
    r <- tryCatch(if (v == "one") svytotal(~one, dd) else svymean(as.formula(paste0("~", v)), dd, na.rm = TRUE), error = function(e) NULL)
    h <- tryCatch(if (v == "one") dom_total(lon, lon$one, dom, opt) else dom_mean(lon, lon[[v]], dom, opt)[1:2], error = function(e) NULL)
    if (is.null(r) != is.null(h)) stop("R and hand formula disagree on failing: ", opt, " ", g, " ", v)
    if (is.null(r)) { errs <- errs + 1; next }
    a <- rbind(a, c(coef(r), SE(r))); b <- rbind(b, h)
  }
  ok <- is.finite(a[, 2]) & is.finite(b[, 2])
  if (!all(ok == (is.finite(a[, 2]) | is.finite(b[, 2])))) stop("NaN pattern differs")
  chk(sprintf("%-9s %3d cells (%d errors, %d NaN SE) estimate & se vs hand formula", opt, nrow(a), errs, sum(!ok)), a[ok, ], b[ok, ])
}
options(survey.lonely.psu = "remove")
ldes <- design_of(lon)
cat("degf does not depend on the option: whole", degf(ldes), " nanhai domain", degf(subset(ldes, district == "nanhai")),
    " gaoqu domain", degf(subset(ldes, district == "gaoqu")), "\n")
# the stratum with 2 PSUs of which one has domain members: not lonely
z_g <- function(opt) { options(survey.lonely.psu = opt); SE(svymean(~overall, subset(design_of(lon), district == "gaoqu"))) }
S <- lon$district == "gaoqu"; W <- sum(lon$w[S]); Y <- sum(lon$w[S] * lon$overall[S]) / W
z <- ifelse(S, lon$w * (lon$overall - Y) / W, 0)
zw <- tapply(z[lon$stratum == "wendeng"], lon$cluster[lon$stratum == "wendeng"], sum)
cat(sprintf("gaoqu domain, stratum wendeng PSU totals %s: contribution 2/(2-1)*sum((z-mean)^2) = %.10g = z_c1^2 = %.10g\n",
            paste(format(zw, digits = 6), collapse = " / "), 2 * sum((zw - mean(zw))^2), zw[["wendeng-c1"]]^2))
options(survey.adjust.domain.lonely = TRUE)
for (opt in c("remove", "adjust", "average")) {
  r <- catch(z_g(opt))
  cat(sprintf("survey.adjust.domain.lonely=TRUE, %-7s gaoqu overall se %s %s\n", opt, format(r$value, digits = 10), paste(r$msgs, collapse = "; ")))
}
options(survey.adjust.domain.lonely = FALSE)
for (opt in c("remove", "adjust", "average")) cat(sprintf("survey.adjust.domain.lonely=FALSE, %-7s gaoqu overall se %s\n", opt, format(z_g(opt), digits = 10)))
# toy worked example (SPEC §6)
toy <- data.frame(stratum = c(rep("A", 9), rep("B", 6), rep("C", 3)),
                  cluster = c(rep(1:3, each = 3), rep(1:2, each = 3), rep(1, 3)),
                  w = c(2, 3, 4, 2, 2, 5, 3, 1, 1, 4, 4, 2, 6, 3, 3, 5, 5, 2),
                  y = c(1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0))
toy$cluster <- paste(toy$stratum, toy$cluster)
cat("toy example (C is lonely): y-bar and SE, and SE of the total of y\n")
for (opt in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = opt)
  td <- svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, data = toy, nest = TRUE)
  m <- svymean(~y, td); t1 <- svytotal(~y, td)
  cat(sprintf("  %-9s mean %.10f se %.10f | total %g se %.10f | degf %d\n", opt, coef(m), SE(m), coef(t1), SE(t1), degf(td)))
}
options(survey.lonely.psu = "fail")

section("7. two waves: stacked design vs the min rule")
a25 <- d25; a25$wave <- "2025"; a26 <- d26; a26$wave <- "2026"
s <- rbind(a25, a26); s$stratum <- paste(s$wave, s$stratum); s$cluster <- paste(s$wave, s$cluster)
sdes <- design_of(s)
cat("degf: 2025", degf(design_of(d25)), " 2026", degf(des), " stacked", degf(sdes), "\n")
r <- catch(svyby(~s_mob_parking, ~wave, sdes, svymean, covmat = TRUE, na.rm = TRUE))
cat("svyby(~s_mob_parking, ~wave, covmat=TRUE, na.rm=TRUE):", paste(r$msgs, collapse = "; "), "\n")
r <- catch(svyby(~overall, ~wave, sdes, svymean, covmat = TRUE, na.rm = TRUE))
cat("same for overall (no NA):", if (length(r$msgs)) r$msgs else "works", "\n")
sv <- subset(sdes, !is.na(s_mob_parking))
byw <- svyby(~s_mob_parking, ~wave, sv, svymean, covmat = TRUE)
print(vcov(byw))
ctr <- svycontrast(byw, quote(`2026` - `2025`))
cat("class of svycontrast(svyby, quote(...)):", class(ctr), "\n")
m1 <- svymean(~s_mob_parking, design_of(d25), na.rm = TRUE); m2 <- svymean(~s_mob_parking, des, na.rm = TRUE)
chk("stacked difference and SE vs separate waves (diff, sqrt(se1^2+se2^2))", c(coef(ctr), SE(ctr)),
    c(coef(m2) - coef(m1), sqrt(SE(m1)^2 + SE(m2)^2)))
cat("confint(ctr, df = degf(stacked)):", format(confint(ctr, df = degf(sdes))), " default confint (df=Inf):", format(confint(ctr)), "\n")
cat("stacked domain df (nanhai): degf(subset) =", degf(subset(sv, district == "nanhai")), "= df2025 + df2026 =",
    degf(subset(design_of(d25), district == "nanhai" & !is.na(s_mob_parking))), "+",
    degf(subset(des, district == "nanhai" & !is.na(s_mob_parking))), "\n")

section("8. raking: rake(), calibrate(raking), bounds, trimWeights")
marg <- read.csv(file.path(dir, "margins.csv"), colClasses = c("character", "character", "numeric"))
qs <- unique(marg$question)
pm <- lapply(qs, function(q) { x <- marg[marg$question == q, ]; r <- data.frame(x$value, x$total); names(r) <- c(q, "Freq"); r })
sm <- lapply(qs, function(q) as.formula(paste0("~", q)))
mm <- model.matrix(~district + sex + age_group, d26)
pop <- c(`(Intercept)` = sum(marg$total[marg$question == "district"]))
for (i in seq_len(nrow(marg))) pop[paste0(marg$question[i], marg$value[i])] <- marg$total[i]
pop <- pop[colnames(mm)]
rk <- rake(des, sm, pm, control = list(maxit = 1000, epsilon = 1e-12))
cu <- calibrate(des, ~district + sex + age_group, population = pop, calfun = "raking", epsilon = 1e-13, maxit = 100)
chk("weights: rake() vs calibrate(calfun='raking') without bounds", weights(rk), weights(cu))
vars <- c("overall", "d_safety", "d_mobility", "s_mob_parking", "s_foreign_services", "s_overall_rating")
hand_rake <- function(v, psw = NULL) {
  w <- weights(rk); S <- !is.na(d26[[v]]); W <- sum(w[S]); Y <- sum(w[S] * d26[[v]][S]) / W
  z <- ifelse(S, w * (d26[[v]] - Y) / W, 0)
  for (it in 1:10) for (k in seq_along(qs)) {
    pw <- if (is.null(psw)) w else psw[[k]]
    z <- z - pw * ave(z / pw, d26[[qs[k]]])
  }
  sqrt(psu_var(z, d26$stratum, d26$cluster))
}
hand_cal <- function(v, cal) {
  w <- weights(cal); g <- w / d26$w; S <- !is.na(d26[[v]]); W <- sum(w[S]); Y <- sum(w[S] * d26[[v]][S]) / W
  z <- ifelse(S, w * (d26[[v]] - Y) / W, 0)
  beta <- solve(crossprod(mm * d26$w, mm), crossprod(mm, z / g))
  z <- z - w * drop(mm %*% beta)
  sqrt(psu_var(z, d26$stratum, d26$cluster))
}
psw <- lapply(rk$postStrata[[1]], function(p) attr(p, "weights"))
se_r <- sapply(vars, function(v) SE(svymean(as.formula(paste0("~", v)), rk, na.rm = TRUE)))
chk("rake() SE vs hand (10 x [z -= w * plain category mean of z/w], final w)", se_r, sapply(vars, hand_rake))
chk("rake() SE vs hand with R's psw (weights after each margin, last sweep)", se_r, sapply(vars, hand_rake, psw = psw))
se_c <- sapply(vars, function(v) SE(svymean(as.formula(paste0("~", v)), cu, na.rm = TRUE)))
chk("calibrate() SE vs hand (z - w * m'beta, beta from design-weighted LS)", se_c, sapply(vars, hand_cal, cal = cu))
cat("SE rake() vs calibrate() for the same weights:\n"); print(rbind(rake = se_r, calibrate = se_c, ratio = se_c / se_r), digits = 6)
ps <- postStratify(des, ~age_group, pm[[3]])
rk1 <- rake(des, list(~age_group), list(pm[[3]]), control = list(maxit = 1000, epsilon = 1e-12))
c1 <- calibrate(des, ~age_group, population = pop[c("(Intercept)", "age_group30-44", "age_group45-59", "age_group60+")])
cat("one margin (age_group): SE of overall  postStratify", format(SE(svymean(~overall, ps)), digits = 10),
    " calibrate(linear)", format(SE(svymean(~overall, c1)), digits = 10), " rake", format(SE(svymean(~overall, rk1)), digits = 10), "\n")
# bounded raking
consistent <- make.calfun(Fm1 = function(u, bounds) pmin(pmax(exp(u), bounds$lower), bounds$upper) - 1,
                          dF = function(u, bounds) ifelse(u < log(bounds$upper) & u > log(bounds$lower), exp(u), 0),
                          name = "raking, consistent dF")
for (b in list(c(0.5, 2), c(0.55, 1.8), c(0.6, 1.6))) {
  r1 <- catch(calibrate(des, ~district + sex + age_group, population = pop, calfun = "raking", bounds = b))
  r2 <- catch(calibrate(des, ~district + sex + age_group, population = pop, calfun = consistent, bounds = b, epsilon = 1e-13, maxit = 100))
  cat(sprintf("bounds c(%g, %g): R 'raking' (default eps 1e-7, maxit 50): %s | consistent dF: %s\n", b[1], b[2],
              if (is.null(r1$value)) paste(r1$msgs, collapse = "; ") else sprintf("ok, g in [%.6f, %.6f]", min(weights(r1$value) / d26$w), max(weights(r1$value) / d26$w)),
              if (is.null(r2$value)) paste(r2$msgs, collapse = "; ") else sprintf("ok, g in [%.6f, %.6f], %d at lower, %d at upper",
                min(weights(r2$value) / d26$w), max(weights(r2$value) / d26$w), sum(weights(r2$value) / d26$w <= b[1] * (1 + 1e-12)), sum(weights(r2$value) / d26$w >= b[2] * (1 - 1e-12)))))
}
cb <- calibrate(des, ~district + sex + age_group, population = pop, calfun = consistent, bounds = c(0.5, 2), epsilon = 1e-13, maxit = 100)
se_b <- sapply(vars, function(v) SE(svymean(as.formula(paste0("~", v)), cb, na.rm = TRUE)))
chk("bounded calibrate() SE vs the same hand formula (bounds ignored in variance)", se_b, sapply(vars, hand_cal, cal = cb))
g <- weights(cb) / d26$w; free <- g > 0.5 * (1 + 1e-12) & g < 2 * (1 - 1e-12)
fit <- lm.fit(mm[free, ], log(g[free])); eta <- fit$coefficients
cat(sprintf("bounded solution is g = clip(exp(m'eta), 0.5, 2): log g of the %d free units = m'eta up to %.2e; clipped units have m'eta >= log 2: %s\n",
            sum(free), max(abs(fit$residuals)), all(drop(mm[!free, ] %*% eta) >= log(2) - 1e-9)))
it <- catch(calibrate(des, ~district + sex + age_group, population = pop, calfun = "raking", bounds = c(0.5, 2), epsilon = 1e-13, maxit = 1000))
cat("R 'raking' with bounds c(0.5, 2), epsilon 1e-13, maxit 1000:", if (length(it$msgs)) it$msgs else "converged",
    sprintf("; max rel weight diff to the consistent-dF solution %.2e\n", maxrel(weights(it$value %||% cb), weights(cb))))
# SOMETHRESHOLD: weights far below the population
one <- suppressWarnings(svydesign(ids = ~cluster, strata = ~stratum, data = d26, nest = TRUE))   # all weights 1
r <- catch(calibrate(one, ~district + sex + age_group, population = pop, calfun = consistent, bounds = c(0.5, 2), epsilon = 1e-13, maxit = 100))
cat("unit weights, population totals: ", paste(r$msgs, collapse = "; "), "\n")
if (!is.null(r$value)) cat(sprintf("  resulting w range [%.2f, %.2f]; mean(T/t) = %.4f\n", min(weights(r$value)), max(weights(r$value)),
                                mean(pop / colSums(mm))))
# trimWeights
tw <- trimWeights(rk, upper = 10000, lower = 1000)
w0 <- weights(rk); w1 <- weights(tw); out <- w0 > 10000 | w0 < 1000
cat(sprintf("trimWeights(raked, lower 1000, upper 10000): %d trimmed; sum(w) kept: %s; added to each untrimmed unit: %.6f (= trimmed mass / #untrimmed = %.6f)\n",
            sum(out), isTRUE(all.equal(sum(w0), sum(w1))), unique(round(w1[!out] - w0[!out], 6)), sum(w0[out] - pmin(pmax(w0[out], 1000), 10000)) / sum(!out)))
cat(sprintf("  after trimming: max |margin error| = %.1f; still postStrata from rake(): %s; any w outside after one pass: %s\n",
            max(abs(unlist(lapply(seq_along(qs), function(i) tapply(w1, d26[[qs[i]]], sum)[pm[[i]][[qs[i]]]] - pm[[i]]$Freq)))),
            !is.null(tw$postStrata), any(w1 > 10000 | w1 < 1000)))

section("9. subbootstrap + rake() with a zero replicate total in a raking category")
set.seed(42)
toy <- data.frame(stratum = rep(c("A", "B", "C"), each = 12), cluster = rep(1:9, each = 4))
toy$cluster <- paste(toy$stratum, toy$cluster)
toy$w <- round(runif(36, 10, 40))
toy$grp <- ifelse(toy$cluster == "A 1", "x", ifelse(toy$cluster %in% c("B 4", "C 7"), "y", "z"))
toy$sex <- rep(c("m", "f"), 18)
toy$y <- round(runif(36, 0, 100))
tdes <- svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, data = toy, nest = TRUE)
set.seed(7)
rep <- as.svrepdesign(tdes, type = "subbootstrap", replicates = 20)
tot <- rowsum(weights(rep, "analysis"), toy$grp)
cat("replicates with zero total in category x:", which(tot["x", ] == 0), "; in y:", which(tot["y", ] == 0), "\n")
pmt <- list(data.frame(grp = c("x", "y", "z"), Freq = c(100, 300, 900)), data.frame(sex = c("m", "f"), Freq = c(640, 660)))
r <- catch(rake(rep, list(~grp, ~sex), pmt))
cat("rake(replicate design):", paste(r$msgs, collapse = "; "), "\n")
r <- catch(postStratify(rep, ~grp, pmt[[1]]))
cat("postStratify(replicate design):", paste(r$msgs, collapse = "; "), "\n")
rep0 <- rep; rep0$degf <- NULL
ps <- postStratify(rep0, ~grp, pmt[[1]])
rw <- weights(ps, "analysis")
bad <- which(apply(rw, 2, function(c) any(is.nan(c))))
cat("with design$degf removed, postStratify succeeds; NaN replicate weights in replicates", bad, "\n")
r <- catch(svymean(~y, ps))
cat("svymean:", format(coef(r$value)), "SE", format(SE(r$value)), "|", paste(r$msgs, collapse = "; "), "\n")
th <- suppressWarnings(svymean(~y, ps, return.replicates = TRUE))$replicates
ok <- is.finite(th)
cat(sprintf("SE = sqrt(sum over the %d finite replicates (theta - mean)^2 / (B - 1 = %d)) = %.10f (with /(%d - 1): %.10f)\n",
            sum(ok), 19, sqrt(sum((th[ok] - mean(th[ok]))^2) / 19), sum(ok), sqrt(sum((th[ok] - mean(th[ok]))^2) / (sum(ok) - 1))))
r <- catch(calibrate(rep, ~grp + sex, c(`(Intercept)` = 1300, grpy = 300, grpz = 900, sexm = 640), calfun = "raking"))
cat("calibrate(replicate design, raking):", length(r$msgs), "distinct warnings, e.g.", r$msgs[1], "; result:",
    if (is.null(r$value)) "none" else paste("SE", format(SE(svymean(~y, r$value))), "(no error)"), "\n")
lon1 <- toy; lon1$cluster[lon1$stratum == "C"] <- "C 7"
r <- catch(as.svrepdesign(svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, data = lon1, nest = TRUE), type = "subbootstrap", replicates = 5))
cat("subbootstrap with a one-PSU stratum:", paste(r$msgs, collapse = "; "), "\n")
cat("  (subbootstratum draws n-1 = 0 PSUs and multiplies by n/(n-1) = 1/0: replicate weights 0 * Inf = NaN)\n")

section("10. other behaviour")
r <- svymean(~s_foreign_services, subset(des, district == "gaoqu" & resident_type != "foreign"), na.rm = TRUE)
cat("svymean(na.rm=TRUE) on a domain where y is all NA: mean", coef(r), "SE", SE(r), "(no error, no NA)\n")
m1 <- svymean(~s_mob_parking, subset(des, district == "nanhai"), na.rm = TRUE)
m2 <- svymean(~s_mob_parking, subset(des, district == "nanhai" & !is.na(s_mob_parking)))
chk("na.rm=TRUE in a domain = domain of the answered (estimate, se)", c(coef(m1), SE(m1)), c(coef(m2), SE(m2)))
tp <- svyciprop(~t_mob_parking, subset(des, district == "nanhai"), method = "logit", df = degf(subset(des, district == "nanhai" & !is.na(t_mob_parking))))
cat("svyciprop(logit) nanhai top box:", format(as.numeric(tp)), "CI", format(attr(tp, "ci")), "\n")
cat("\nsessionInfo: ", R.version.string, ", survey ", as.character(packageVersion("survey")), "\n", sep = "")
