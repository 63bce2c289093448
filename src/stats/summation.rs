//! Compensated summation (Kahan–Babuška–Neumaier), used for every sum over
//! respondents so that sums over millions of weights keep full precision.

/// A Neumaier compensated accumulator.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NeumaierSum {
    sum: f64,
    comp: f64,
}

impl NeumaierSum {
    /// An empty sum.
    pub const ZERO: NeumaierSum = NeumaierSum { sum: 0.0, comp: 0.0 };

    /// Add one term. The rounding error of `sum + x` is recovered exactly
    /// with Knuth's branch-free TwoSum (same result as Neumaier's
    /// comparison-based form, without unpredictable branches).
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        let bp = t - self.sum;
        self.comp += (self.sum - (t - bp)) + (x - bp);
        self.sum = t;
    }

    /// Merge another accumulator into this one.
    #[inline]
    pub fn merge(&mut self, other: &NeumaierSum) {
        self.add(other.sum);
        self.add(other.comp);
    }

    /// Add the product `a·b` including its rounding error (via fused
    /// multiply-add), i.e. as if the product were exact.
    #[inline]
    pub fn add_product(&mut self, a: f64, b: f64) {
        let p = a * b;
        let e = a.mul_add(b, -p);
        self.add(p);
        self.comp += e;
    }

    /// Add `c · other` (both parts of the compensated value).
    #[inline]
    pub fn add_scaled(&mut self, c: f64, other: &NeumaierSum) {
        self.add_product(c, other.sum);
        self.add_product(c, other.comp);
    }

    /// The compensated value.
    #[inline(always)]
    pub fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Terms summed in plain f64 before each compensated addition. A block's
/// rounding error is at most `BLOCK · ε` relative (≈ 3e-14), and the blocks
/// are then added with compensation, so precision stays far inside the
/// 1e-9 contract while the hot loop does plain additions.
pub const BLOCK: u32 = 256;

/// Blocked compensated sum: plain additions within a block of at most
/// [`BLOCK`] terms, Neumaier summation across blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BlockedSum {
    exact: NeumaierSum,
    block: f64,
    count: u32,
}

impl BlockedSum {
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        self.block += x;
        self.count += 1;
        if self.count == BLOCK {
            self.exact.add(self.block);
            self.block = 0.0;
            self.count = 0;
        }
    }

    /// The sum so far as a compensated accumulator.
    #[inline]
    pub fn finish(&self) -> NeumaierSum {
        let mut s = self.exact;
        s.add(self.block);
        s
    }
}

/// Compensated sum of a slice.
pub fn sum(xs: &[f64]) -> f64 {
    let mut s = NeumaierSum::ZERO;
    for &x in xs {
        s.add(x);
    }
    s.value()
}

/// Compensated sum of squares of a slice.
pub fn sum_sq(xs: &[f64]) -> f64 {
    let mut s = NeumaierSum::ZERO;
    for &x in xs {
        s.add(x * x);
    }
    s.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neumaier_is_exact_where_naive_fails() {
        let xs = [1.0, 1e100, 1.0, -1e100];
        assert_eq!(sum(&xs), 2.0);
        let mut naive = 0.0;
        for _ in 0..10_000_000 {
            naive += 0.1;
        }
        let v = vec![0.1; 10_000_000];
        assert!((sum(&v) - 1_000_000.0).abs() < 1e-9);
        assert!((naive - 1_000_000.0f64).abs() > 1e-6);
        assert!((sum_sq(&[3.0, 4.0]) - 25.0).abs() == 0.0);
    }
}
