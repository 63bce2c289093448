# Shared by reference.R and spec_checks.R: read an interview CSV written by
# make_data.py and add the respondent-level variables of docs/statistics.md
# §1-§2 (as tests/reference/invited/reference.R computes them).
#
#   s_<q>   item score 0-100 from the option's score in structure.csv; the
#           unscored "dk" and no answer are NA
#   t_<q>   top-two box: 1 when the option is one of the two highest-scored
#           options, 0 for another scored option, else NA
#   f_<q>   the answer as a factor over ALL option values in definition
#           order (dk included), NA when not answered (for distributions)
#   d_<dim> dimension score: item-weighted mean over the answered items
#   overall dimension-weighted mean over the in_overall dimensions present
#   w, stratum, cluster  from _weight, _stratum, _cluster
suppressMessages(library(survey))

read_structure <- function(dir) {
  st <- read.csv(file.path(dir, "structure.csv"), colClasses = "character", na.strings = character(0))
  st$item_weight <- as.numeric(st$item_weight)
  st
}

wmean_rows <- function(m, w) {  # row-wise weighted mean over non-missing columns
  ok <- !is.na(m)
  num <- rowSums(ifelse(ok, m, 0) * rep(w, each = nrow(m)))
  den <- rowSums(ok * rep(w, each = nrow(m)))
  ifelse(den > 0, num / den, NA)
}

read_wave <- function(path, st) {
  d <- read.csv(path, colClasses = "character", check.names = FALSE,
                na.strings = character(0), encoding = "UTF-8")
  for (j in seq_len(nrow(st))) {
    q <- st$question[j]
    vals <- strsplit(st$values[j], ";", fixed = TRUE)[[1]]
    sc <- suppressWarnings(as.numeric(strsplit(st$scores[j], ";", fixed = TRUE)[[1]]))
    ans <- d[[q]]
    bad <- ans != "" & !(ans %in% vals)
    if (any(bad)) stop("question ", q, ": unknown value(s) ", paste(unique(ans[bad]), collapse = ", "))
    s <- sc[match(ans, vals)]
    top <- sort(sc[!is.na(sc)], decreasing = TRUE)[2]
    d[[paste0("s_", q)]] <- s
    d[[paste0("t_", q)]] <- ifelse(is.na(s), NA, as.numeric(s >= top))
    d[[paste0("f_", q)]] <- factor(ifelse(ans == "", NA, ans), levels = vals)
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
  d$overall <- wmean_rows(as.matrix(d[, paste0("d_", dims[dim_in]), drop = FALSE]), dim_w[dim_in])
  d$w <- as.numeric(d$`_weight`)
  d$stratum <- d$`_stratum`
  d$cluster <- d$`_cluster`
  d$one <- 1
  attr(d, "dims") <- dims
  d
}

# The variables of every index: (level, id, variable, top-two-box variable).
index_vars <- function(st) {
  dims <- unique(st$dimension[st$dimension != ""])
  rbind(data.frame(level = "overall", id = "overall", var = "overall", top = NA),
        data.frame(level = "dimension", id = dims, var = paste0("d_", dims), top = NA),
        data.frame(level = "item", id = st$question, var = paste0("s_", st$question),
                   top = paste0("t_", st$question)))
}

design_of <- function(d) svydesign(ids = ~cluster, strata = ~stratum, weights = ~w, data = d, nest = TRUE)

num <- function(x) trimws(formatC(x, digits = 15, format = "g"))
tojson <- function(x) {
  if (is.list(x)) {
    paste0("{", paste(sprintf('"%s":%s', names(x), sapply(x, tojson)), collapse = ","), "}")
  } else if (length(x) == 1 && is.na(x)) "null"
  else if (is.logical(x)) tolower(as.character(x))
  else if (is.character(x)) sprintf('"%s"', gsub('"', '\\\\"', x))
  else if (!is.finite(x)) "null"
  else num(x)
}
