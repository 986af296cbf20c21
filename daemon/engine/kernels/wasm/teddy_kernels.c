/*
 * Teddy's own wasm SIMD kernels for training on the tfjs wasm backend.
 *
 * Built by build.sh into a module that imports the tfjs backend's memory ("env.memory"),
 * so every pointer below is an offset into the tfjs heap (tensor data, or scratch
 * buffers allocated through the backend). The module has no data and uses no stack:
 * it must not write anywhere but the buffers it is given.
 */
#include <wasm_simd128.h>

typedef unsigned int u32;

/* out = cond(v) ? dy : 0 with cond: mode 0: v > t, 1: v < t, 2: v <= t. */
__attribute__((export_name("masked_grad")))
void masked_grad(const float *dy, const float *v, float *out, u32 n, u32 mode, float t) {
  const v128_t tv = wasm_f32x4_splat(t);
  u32 i = 0;
  if (mode == 0) {
    for (; i + 4 <= n; i += 4) {
      v128_t m = wasm_f32x4_gt(wasm_v128_load(v + i), tv);
      wasm_v128_store(out + i, wasm_v128_and(wasm_v128_load(dy + i), m));
    }
    for (; i < n; i++) out[i] = v[i] > t ? dy[i] : 0.0f;
  } else if (mode == 1) {
    for (; i + 4 <= n; i += 4) {
      v128_t m = wasm_f32x4_lt(wasm_v128_load(v + i), tv);
      wasm_v128_store(out + i, wasm_v128_and(wasm_v128_load(dy + i), m));
    }
    for (; i < n; i++) out[i] = v[i] < t ? dy[i] : 0.0f;
  } else {
    for (; i + 4 <= n; i += 4) {
      v128_t m = wasm_f32x4_le(wasm_v128_load(v + i), tv);
      wasm_v128_store(out + i, wasm_v128_and(wasm_v128_load(dy + i), m));
    }
    for (; i < n; i++) out[i] = v[i] <= t ? dy[i] : 0.0f;
  }
}

/* Adds the float32 partial sums f[0..n) into the float64 totals d[0..n) and clears f. */
static void flush(float *f, double *d, u32 n) {
  for (u32 c = 0; c < n; c++) {
    d[c] += (double)f[c];
    f[c] = 0.0f;
  }
}

/*
 * Batch-norm backward over rows×ch (NHWC flattened), one pass:
 *   dx = dy·k[c];  s1[c] = Σ dy;  s2[c] = Σ dy·(x − mean[c]).
 * scratch: 2·ch floats (zeroed here) followed by 2·ch doubles (8-byte aligned).
 * ch must be a multiple of 4.
 */
__attribute__((export_name("bn_grad")))
void bn_grad(const float *dy, const float *x, const float *mean, const float *k,
             float *dx, float *s1, float *s2, u32 rows, u32 ch, float *scratch, double *dscratch) {
  float *f1 = scratch, *f2 = scratch + ch;
  double *d1 = dscratch, *d2 = dscratch + ch;
  for (u32 c = 0; c < 2 * ch; c++) { scratch[c] = 0.0f; dscratch[c] = 0.0; }
  const u32 block = 64;
  for (u32 r0 = 0; r0 < rows; r0 += block) {
    u32 r1 = r0 + block < rows ? r0 + block : rows;
    for (u32 r = r0; r < r1; r++) {
      const float *dyr = dy + (unsigned long)r * ch;
      const float *xr = x + (unsigned long)r * ch;
      float *dxr = dx + (unsigned long)r * ch;
      for (u32 c = 0; c < ch; c += 4) {
        v128_t d = wasm_v128_load(dyr + c);
        wasm_v128_store(dxr + c, wasm_f32x4_mul(d, wasm_v128_load(k + c)));
        wasm_v128_store(f1 + c, wasm_f32x4_add(wasm_v128_load(f1 + c), d));
        v128_t xc = wasm_f32x4_sub(wasm_v128_load(xr + c), wasm_v128_load(mean + c));
        wasm_v128_store(f2 + c, wasm_f32x4_add(wasm_v128_load(f2 + c), wasm_f32x4_mul(d, xc)));
      }
    }
    flush(f1, d1, ch);
    flush(f2, d2, ch);
  }
  for (u32 c = 0; c < ch; c++) { s1[c] = (float)d1[c]; s2[c] = (float)d2[c]; }
}

/*
 * Depthwise conv filter gradient, channel multiplier 1, NHWC, ch a multiple of 4:
 *   out[i][j][c] = Σ_{b,y,x} x[b, y·sh + i·dh − top, x·sw + j·dw − left, c] · dy[b,y,x,c]
 * scratch: kh·kw·ch floats; dscratch: kh·kw·ch doubles.
 */
__attribute__((export_name("dw_filter_grad")))
void dw_filter_grad(const float *x, const float *dy, float *out,
                    u32 n, u32 h, u32 w, u32 ch, u32 oh, u32 ow, u32 kh, u32 kw,
                    u32 sh, u32 sw, u32 dh, u32 dw, int top, int left,
                    float *scratch, double *dscratch) {
  const u32 taps = kh * kw;
  const u32 total = taps * ch;
  for (u32 t = 0; t < total; t++) { scratch[t] = 0.0f; dscratch[t] = 0.0; }
  for (u32 b = 0; b < n; b++) {
    for (u32 y = 0; y < oh; y++) {
      for (u32 xo = 0; xo < ow; xo++) {
        const float *dyp = dy + (((unsigned long)b * oh + y) * ow + xo) * ch;
        for (u32 i = 0; i < kh; i++) {
          int iy = (int)(y * sh + i * dh) - top;
          if (iy < 0 || iy >= (int)h) continue;
          for (u32 j = 0; j < kw; j++) {
            int ix = (int)(xo * sw + j * dw) - left;
            if (ix < 0 || ix >= (int)w) continue;
            const float *xp = x + (((unsigned long)b * h + (u32)iy) * w + (u32)ix) * ch;
            float *acc = scratch + (i * kw + j) * ch;
            for (u32 c = 0; c < ch; c += 4) {
              v128_t p = wasm_f32x4_mul(wasm_v128_load(xp + c), wasm_v128_load(dyp + c));
              wasm_v128_store(acc + c, wasm_f32x4_add(wasm_v128_load(acc + c), p));
            }
          }
        }
      }
      flush(scratch, dscratch, total); /* at most ow·(taps) terms per float32 partial */
    }
  }
  for (u32 t = 0; t < total; t++) out[t] = (float)dscratch[t];
}

/*
 * Depthwise conv input gradient, channel multiplier 1, NHWC, ch a multiple of 4
 * (scatter form; dx is overwritten):
 *   dx[b, y·sh + i·dh − top, x·sw + j·dw − left, c] += dy[b,y,x,c] · f[i,j,c]
 */
__attribute__((export_name("dw_input_grad")))
void dw_input_grad(const float *dy, const float *f, float *dx,
                   u32 n, u32 h, u32 w, u32 ch, u32 oh, u32 ow, u32 kh, u32 kw,
                   u32 sh, u32 sw, u32 dh, u32 dw, int top, int left) {
  const unsigned long total = (unsigned long)n * h * w * ch;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (unsigned long t = 0; t < total; t += 4) wasm_v128_store(dx + t, zero);
  for (u32 b = 0; b < n; b++) {
    for (u32 y = 0; y < oh; y++) {
      for (u32 xo = 0; xo < ow; xo++) {
        const float *dyp = dy + (((unsigned long)b * oh + y) * ow + xo) * ch;
        for (u32 i = 0; i < kh; i++) {
          int iy = (int)(y * sh + i * dh) - top;
          if (iy < 0 || iy >= (int)h) continue;
          for (u32 j = 0; j < kw; j++) {
            int ix = (int)(xo * sw + j * dw) - left;
            if (ix < 0 || ix >= (int)w) continue;
            float *dxp = dx + (((unsigned long)b * h + (u32)iy) * w + (u32)ix) * ch;
            const float *fp = f + (i * kw + j) * ch;
            for (u32 c = 0; c < ch; c += 4) {
              v128_t p = wasm_f32x4_mul(wasm_v128_load(dyp + c), wasm_v128_load(fp + c));
              wasm_v128_store(dxp + c, wasm_f32x4_add(wasm_v128_load(dxp + c), p));
            }
          }
        }
      }
    }
  }
}

/* out = min(x, s) element-wise (NaN-propagating, like Math.min). */
__attribute__((export_name("min_scalar")))
void min_scalar(const float *x, float *out, u32 n, float s) {
  const v128_t sv = wasm_f32x4_splat(s);
  u32 i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_min(wasm_v128_load(x + i), sv));
  for (; i < n; i++) out[i] = wasm_f32x4_extract_lane(wasm_f32x4_min(wasm_f32x4_splat(x[i]), sv), 0);
}
