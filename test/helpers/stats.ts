/** Small statistics for randomness and timing checks: chi-square and Welch's t, with p-values. */

function lnGamma(z: number): number {
  // Lanczos approximation (g = 7, n = 9).
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z);
  const x = z - 1;
  let a = c[0] as number;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x). */
function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const front = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 10_000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * front;
  }
  // Continued fraction (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return front * h;
}

/** P(X >= x) for X ~ chi-square with `df` degrees of freedom. */
export function chiSquareP(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/** Chi-square statistic and p-value of observed counts against a uniform distribution. */
export function uniformChiSquare(counts: ArrayLike<number>): { chi2: number; df: number; p: number } {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  const expected = total / counts.length;
  let chi2 = 0;
  for (let i = 0; i < counts.length; i++) chi2 += ((counts[i] as number) - expected) ** 2 / expected;
  const df = counts.length - 1;
  return { chi2, df, p: chiSquareP(chi2, df) };
}

/** Welch's t statistic and an approximate two-sided p-value (normal tail; fine for large samples). */
export function welch(a: number[], b: number[]): { t: number; p: number } {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const variance = (v: number[], m: number) => v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1);
  const ma = mean(a);
  const mb = mean(b);
  const t = (ma - mb) / Math.sqrt(variance(a, ma) / a.length + variance(b, mb) / b.length);
  // Two-sided normal tail via chi-square with 1 df: P(|Z| >= t) = P(chi2_1 >= t^2).
  return { t, p: chiSquareP(t * t, 1) };
}
