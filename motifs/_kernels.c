/* Compiled inner loops of the motif engine (motifs.nulls, motifs.census).
 *
 * switch_samples: Milo's edge-switching chain, one sample after another.
 * The same chain as the "sequential" engine of motifs/nulls.py (two edges
 * drawn uniformly per attempt, the second within the first one's class;
 * mutual dyads switch as pairs), run per sample on an occupancy bitset, so an
 * attempt costs a few nanoseconds instead of a few numpy calls.  Python draws
 * one seed per sample from its seeded generator; each sample then runs its
 * own xoshiro256** stream, so results depend only on those seeds; the numpy
 * sequential engine runs the same streams and draws in the same order
 * (motifs.nulls._Xoshiro), so both engines give identical samples.
 *
 * Samples come in chains (Fosdick et al. 2018's sampling gap): a chain's
 * first sample runs the full length from the real graph, each later one a
 * shorter gap from the sample before it, with its own stream.
 *
 * Each edge reads one plane of the `allowed` bitsets (its `plane`): one plane
 * for most nulls, and for causal-config one plane of same-position and one of
 * cross-position cells, so an edge moves only onto cells of its own class.
 *
 * triangle_counts: transitive triples and 3-cycles of many edge sets, the
 * only non-degree terms of the triad census of a graph without mutual dyads.
 * triad_census_full: the whole census of many edge sets that may have
 * mutual dyads (Batagelj & Mrvar 2001, on bitsets).
 *
 * Reference: R. Milo et al., "Network motifs: simple building blocks of
 * complex networks", Science 298:824-827 (2002), supplementary material.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t s[4];
} rng_t;

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng_t *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(rng_t *r, uint64_t seed) {
    /* splitmix64 fills the state, as the xoshiro authors recommend */
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

/* uniform integer in [0, k): Lemire's multiply-shift (bias below 2^-32 here) */
static inline int64_t below(rng_t *r, int64_t k) {
    return (int64_t)(((unsigned __int128)rng_next(r) * (uint64_t)k) >> 64);
}

#define GET(occ, cell) (((occ)[(cell) >> 6] >> ((cell) & 63)) & 1ULL)
#define SET(occ, cell) ((occ)[(cell) >> 6] |= 1ULL << ((cell) & 63))
#define CLR(occ, cell) ((occ)[(cell) >> 6] &= ~(1ULL << ((cell) & 63)))

typedef struct {
    int64_t n, m, n_singles, n_dyads, single_steps, dyad_steps;
    int preserve_mutual;
    const int64_t *src, *dst0, *singles, *class_start, *class_size, *dyads0, *edge_class;
    const int64_t *plane;    /* per edge: which bitset of `allowed` it reads */
    const uint64_t *allowed; /* bitsets of the n*n cells an edge may occupy, one per plane */
    int64_t words;           /* words of one bitset */
    int one_class;           /* every single edge in one class, singles = 0..m-1 */
} chain_t;

/* One single edge in class order, as the singles chain reads it: its
 * endpoints (8 bytes, so that a one-class chain's slots of a few thousand
 * edges stay in the first-level cache). */
typedef struct {
    int32_t src, dst;
} slot_t;

/* Per slot, what a several-class chain reads besides the endpoints: the
 * class's first slot and size, and the offset (words) of the edge's plane. */
typedef struct {
    int32_t class_start, class_size, plane_off;
} class_t;

/* The attempts of the singles chain, specialised by the compiler for the
 * flags the caller passes as constants.  An attempt succeeds when both new
 * cells are free in their edge's plane (`free` = allowed & ~occupied, one
 * bitset per plane): a cell of the chosen edges themselves is occupied, so
 * this also rejects a == c (a->d is c->d) and b == d (a->d is a->b).  With
 * one class the second edge's draw does not wait for the first edge's load
 * (below(m) is the class draw, class_start 0 and class_size m).  A mutual-
 * keeping chain has one plane, every off-diagonal cell (switch_samples checks
 * it), so a cell is occupied exactly when it is not free.  Rejections
 * are the rule (4-12% of attempts succeed on attribution graphs), so the
 * branch on success is well predicted and the work after it is rare. */
static inline __attribute__((always_inline)) int64_t singles_loop(
    const chain_t *ch, rng_t *rng, slot_t *slot, const class_t *cls, uint64_t *free_,
    const int64_t steps, const int one_class, const int mutual, const int64_t n_planes) {
    const int64_t n = ch->n, m = ch->n_singles, words = ch->words;
    const uint64_t *allowed = ch->allowed;
    int64_t accepted = 0;
    /* the draws of an attempt do not depend on the graph, so the next attempt's are
     * made before this one's test: a mispredicted test then does not wait for them
     * (the stream's order is unchanged; the last attempt's extra draws go unused) */
    int64_t i = below(rng, m);
    int64_t j = one_class ? below(rng, m) : cls[i].class_start + below(rng, cls[i].class_size);
    for (int64_t step = 0; step < steps; step++) {
        slot_t *x = slot + i, *y = slot + j;
        const int32_t *plane_x = &cls[i].plane_off, *plane_y = &cls[j].plane_off;
        i = below(rng, m);
        j = one_class ? below(rng, m) : cls[i].class_start + below(rng, cls[i].class_size);
        int64_t a = x->src, b = x->dst, c = y->src, d = y->dst;
        int64_t ad = a * n + d, cb = c * n + b;
        uint64_t ok = one_class ? GET(free_, ad) & GET(free_, cb)
                                : GET(free_ + *plane_x, ad) & GET(free_ + *plane_y, cb);
        /* d->a, b->c occupied: not free (a == d, b == c made a diagonal cell above) */
        if (mutual) ok &= GET(free_, d * n + a) & GET(free_, b * n + c);
        if (ok) {
            int64_t cells[4] = {a * n + b, c * n + d, ad, cb};
            for (int64_t p = 0; p < n_planes; p++) {
                /* a freed cell is free where its plane allows it; a taken one is not */
                uint64_t *f = free_ + p * words;
                const uint64_t *al = allowed + p * words;
                for (int q = 0; q < 4; q++) f[cells[q] >> 6] ^= GET(al, cells[q]) << (cells[q] & 63);
            }
            x->dst = (int32_t)d;
            y->dst = (int32_t)b;
            accepted++;
        }
    }
    return accepted;
}

/* The chain of a network without mutual dyads (attribution graphs): the
 * same moves and draws as run_sample, on the single edges laid out in class
 * order (slot k is edge singles[k]) with everything an attempt reads side
 * by side.  `free_` holds n_planes bitsets; `occ` is scratch for one. */
static int64_t run_singles(const chain_t *ch, uint64_t seed, int64_t steps, int64_t *dst,
                           uint64_t *occ, uint64_t *free_, int64_t n_planes, slot_t *slot,
                           class_t *cls) {
    const int64_t n = ch->n, m = ch->n_singles, words = ch->words;
    rng_t rng;
    int64_t accepted = 0;

    rng_seed(&rng, seed);
    memset(occ, 0, (size_t)words * sizeof(uint64_t));
    for (int64_t e = 0; e < ch->m; e++) SET(occ, ch->src[e] * n + dst[e]);
    for (int64_t p = 0; p < n_planes; p++)
        for (int64_t w = 0; w < words; w++)
            free_[p * words + w] = ch->allowed[p * words + w] & ~occ[w];
    for (int64_t k = 0; k < m; k++) {
        int64_t e = ch->singles[k];
        slot[k].src = (int32_t)ch->src[e];
        slot[k].dst = (int32_t)dst[e];
        cls[k].class_start = (int32_t)ch->class_start[k];
        cls[k].class_size = (int32_t)ch->class_size[k];
        cls[k].plane_off = (int32_t)(ch->plane[e] * words);
    }
    /* one plane in almost every null: a constant trip count for the update */
    if (ch->one_class && ch->preserve_mutual)
        accepted = singles_loop(ch, &rng, slot, cls, free_, steps, 1, 1, 1);
    else if (ch->one_class)
        accepted = singles_loop(ch, &rng, slot, cls, free_, steps, 1, 0, 1);
    else if (ch->preserve_mutual)
        accepted = singles_loop(ch, &rng, slot, cls, free_, steps, 0, 1, 1);
    else if (n_planes == 1)
        accepted = singles_loop(ch, &rng, slot, cls, free_, steps, 0, 0, 1);
    else
        accepted = singles_loop(ch, &rng, slot, cls, free_, steps, 0, 0, n_planes);
    for (int64_t k = 0; k < m; k++) dst[ch->singles[k]] = slot[k].dst;
    return accepted;
}

/* Run one sample's chain of `single_steps` single and `dyad_steps` dyad attempts;
 * dst (m) and dyads (2 n_dyads) are updated in place. */
static int64_t run_sample(const chain_t *ch, uint64_t seed, int64_t single_steps,
                          int64_t dyad_steps, int64_t *dst, int64_t *dyads, uint64_t *occ) {
    const int64_t n = ch->n;
    const int64_t *src = ch->src;
    const uint64_t *allowed = ch->allowed;
    rng_t rng;
    int64_t accepted = 0;
    int64_t steps = single_steps > dyad_steps ? single_steps : dyad_steps;

    rng_seed(&rng, seed);
    memset(occ, 0, (size_t)((n * n + 63) / 64) * sizeof(uint64_t));
    for (int64_t e = 0; e < ch->m; e++) SET(occ, src[e] * n + dst[e]);

    for (int64_t step = 0; step < steps; step++) {
        if (step < single_steps) {
            int64_t i, j;
            if (ch->one_class) {
                i = below(&rng, ch->n_singles);
                j = below(&rng, ch->n_singles);
            } else {
                int64_t k = below(&rng, ch->n_singles);
                i = ch->singles[k];
                j = ch->singles[ch->class_start[k] + below(&rng, ch->class_size[k])];
            }
            int64_t a = src[i], c = src[j], b = dst[i], d = dst[j];
            int64_t ad = a * n + d, cb = c * n + b;
            int ok = a != c && b != d && GET(allowed + ch->plane[i] * ch->words, ad) &&
                     GET(allowed + ch->plane[j] * ch->words, cb) && !GET(occ, ad) &&
                     !GET(occ, cb);
            if (ok && ch->preserve_mutual)
                ok = !GET(occ, d * n + a) && !GET(occ, b * n + c);
            if (ok) {
                CLR(occ, a * n + b);
                CLR(occ, c * n + d);
                SET(occ, ad);
                SET(occ, cb);
                dst[i] = d;
                dst[j] = b;
                accepted++;
            }
        }
        if (step < dyad_steps) {
            int64_t e = below(&rng, ch->n_dyads), f = below(&rng, ch->n_dyads);
            int64_t fe = (int64_t)(rng_next(&rng) >> 63), ff = (int64_t)(rng_next(&rng) >> 63);
            int64_t ab = dyads[2 * e + fe], ba = dyads[2 * e + 1 - fe];
            int64_t cd = dyads[2 * f + ff], dc = dyads[2 * f + 1 - ff];
            int64_t a = src[ab], c = src[cd], b = dst[ab], d = dst[cd];
            int ok = e != f && a != d && c != b && a != c && b != d &&
                     ch->edge_class[ab] == ch->edge_class[cd] &&
                     ch->edge_class[ba] == ch->edge_class[dc];
            if (ok) {
                int64_t cells[4] = {a * n + d, d * n + a, c * n + b, b * n + c};
                for (int q = 0; q < 4 && ok; q++) ok = GET(allowed, cells[q]) && !GET(occ, cells[q]);
                if (ok) {
                    CLR(occ, a * n + b);
                    CLR(occ, b * n + a);
                    CLR(occ, c * n + d);
                    CLR(occ, d * n + c);
                    for (int q = 0; q < 4; q++) SET(occ, cells[q]);
                    dst[ab] = d;
                    dst[ba] = c;
                    dst[cd] = b;
                    dst[dc] = a;
                    /* now a->d pairs with d->a, and c->b with b->c */
                    dyads[2 * e] = ab;
                    dyads[2 * e + 1] = dc;
                    dyads[2 * f] = cd;
                    dyads[2 * f + 1] = ba;
                    accepted += 2;
                }
            }
        }
    }
    return accepted;
}

/* True when there is one plane and it allows exactly the off-diagonal cells. */
static int offdiagonal_plane(const uint64_t *allowed, int64_t n, int64_t n_planes) {
    if (n_planes != 1) return 0;
    for (int64_t u = 0; u < n; u++)
        for (int64_t v = 0; v < n; v++)
            if (GET(allowed, u * n + v) != (uint64_t)(u != v)) return 0;
    return 1;
}

static int need(Py_buffer *b, Py_ssize_t items, Py_ssize_t itemsize, const char *name) {
    if (b->len != items * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name,
                     items * itemsize, b->len);
        return 0;
    }
    return 1;
}

static PyObject *switch_samples(PyObject *self, PyObject *args) {
    (void)self;
    chain_t ch;
    Py_buffer src, dst0, allowed, plane, singles, cstart, csize, dyads0, eclass, seeds, out,
        out_dyads;
    int pm;
    Py_ssize_t chain_len, gap_single, gap_dyad;
    if (!PyArg_ParseTuple(args, "nny*y*y*y*y*y*y*y*y*pnnnnny*w*w*", &ch.n, &ch.m, &src, &dst0,
                          &allowed, &plane, &singles, &cstart, &csize, &dyads0, &eclass, &pm,
                          &ch.single_steps, &ch.dyad_steps, &chain_len, &gap_single, &gap_dyad,
                          &seeds, &out, &out_dyads))
        return NULL;
    Py_buffer *all[] = {&src, &dst0, &allowed, &plane, &singles, &cstart, &csize,
                        &dyads0, &eclass, &seeds, &out, &out_dyads};
    PyObject *result = NULL;
    Py_ssize_t n_samples = seeds.len / 8;
    ch.n_singles = singles.len / 8;
    ch.n_dyads = dyads0.len / 16;
    ch.preserve_mutual = pm;
    ch.words = (ch.n * ch.n + 63) / 64;
    int64_t n_planes = ch.words ? allowed.len / 8 / ch.words : 1;
    if (!(need(&src, ch.m, 8, "src") && need(&dst0, ch.m, 8, "dst") &&
          need(&allowed, n_planes * ch.words, 8, "allowed") && need(&plane, ch.m, 8, "plane") &&
          need(&cstart, ch.n_singles, 8, "class_start") &&
          need(&csize, ch.n_singles, 8, "class_size") && need(&eclass, ch.m, 8, "edge_class") &&
          need(&out, n_samples * ch.m, 8, "out") &&
          need(&out_dyads, n_samples * 2 * ch.n_dyads, 8, "out_dyads")))
        goto done;
    if (chain_len < 1 || gap_single < 0 || gap_dyad < 0) {
        PyErr_SetString(PyExc_ValueError, "chain_len must be >= 1 and the gap steps >= 0");
        goto done;
    }
    if ((ch.single_steps > 0 && ch.n_singles < 1) || (ch.dyad_steps > 0 && ch.n_dyads < 1) ||
        (gap_single > 0 && ch.n_singles < 1) || (gap_dyad > 0 && ch.n_dyads < 1)) {
        PyErr_SetString(PyExc_ValueError, "steps requested with nothing to switch");
        goto done;
    }
    for (int64_t e = 0; e < ch.m; e++) {
        int64_t p = ((const int64_t *)plane.buf)[e];
        if (p < 0 || p >= n_planes) {
            PyErr_Format(PyExc_ValueError, "plane: edge %lld reads plane %lld of %lld",
                         (long long)e, (long long)p, (long long)n_planes);
            goto done;
        }
    }
    if (pm && !offdiagonal_plane(allowed.buf, ch.n, n_planes)) {
        PyErr_SetString(PyExc_ValueError, "preserve_mutual needs one plane allowing exactly "
                                          "the off-diagonal cells");
        goto done;
    }
    ch.plane = plane.buf;
    ch.src = src.buf;
    ch.dst0 = dst0.buf;
    ch.allowed = allowed.buf;
    ch.singles = singles.buf;
    ch.class_start = cstart.buf;
    ch.class_size = csize.buf;
    ch.dyads0 = dyads0.buf;
    ch.edge_class = eclass.buf;
    ch.one_class = ch.n_dyads == 0 && ch.n_singles == ch.m;
    for (int64_t k = 0; ch.one_class && k < ch.n_singles; k++)
        ch.one_class = ch.singles[k] == k && ch.class_start[k] == 0 &&
                       ch.class_size[k] == ch.m && ch.plane[k] == 0;
    for (int64_t k = 0; k < ch.n_singles; k++) {
        int64_t e = ch.singles[k];
        if (e < 0 || e >= ch.m || ch.class_start[k] < 0 || ch.class_size[k] < 1 ||
            ch.class_start[k] + ch.class_size[k] > ch.n_singles) {
            PyErr_SetString(PyExc_ValueError, "singles, class_start, class_size out of range");
            goto done;
        }
    }
    {
        uint64_t *occ = malloc((size_t)(ch.words + 1) * sizeof(uint64_t));
        uint64_t *free_ = malloc((size_t)(n_planes * ch.words + 1) * sizeof(uint64_t));
        slot_t *edge = malloc((size_t)(ch.n_singles + 1) * sizeof(slot_t));
        class_t *cls = malloc((size_t)(ch.n_singles + 1) * sizeof(class_t));
        if (!occ || !free_ || !edge || !cls || ch.n > INT32_MAX || ch.m > INT32_MAX ||
            n_planes * ch.words > INT32_MAX) {
            free(occ);
            free(free_);
            free(edge);
            free(cls);
            PyErr_NoMemory();
            goto done;
        }
        int64_t accepted = 0;
        const uint64_t *seed = seeds.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t s = 0; s < n_samples; s++) {
            int64_t *dst = (int64_t *)out.buf + s * ch.m;
            int64_t *dy = (int64_t *)out_dyads.buf + s * 2 * ch.n_dyads;
            /* a chain's first sample starts at the real graph and runs the full length;
             * each later one continues from the sample before it for the gap */
            int first = s % chain_len == 0;
            int64_t singles = first ? ch.single_steps : gap_single;
            int64_t dyad = first ? ch.dyad_steps : gap_dyad;
            memcpy(dst, first ? ch.dst0 : dst - ch.m, (size_t)ch.m * 8);
            memcpy(dy, first ? ch.dyads0 : dy - 2 * ch.n_dyads, (size_t)ch.n_dyads * 16);
            accepted += dyad ? run_sample(&ch, seed[s], singles, dyad, dst, dy, occ)
                                   : run_singles(&ch, seed[s], singles, dst, occ, free_,
                                                 n_planes, edge, cls);
        }
        Py_END_ALLOW_THREADS
        free(occ);
        free(free_);
        free(edge);
        free(cls);
        result = PyLong_FromLongLong(accepted);
    }
done:
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    return result;
}

/* A census of S edge sets, run without the GIL: (n, m, S, src, dst, out)
 * with src and dst (S, m) and out (S, width); 0, or -1 out of memory. */
typedef int (*census_fn)(Py_ssize_t, Py_ssize_t, Py_ssize_t, const int64_t *, const int64_t *,
                         int64_t *);

/* Parse (n, m, src, dst, out) for a census of `width` numbers per sample and run it. */
static PyObject *run_census(PyObject *args, const char *name, Py_ssize_t width, census_fn fn) {
    Py_ssize_t n, m;
    Py_buffer src, dst, out;
    if (!PyArg_ParseTuple(args, "nny*y*w*", &n, &m, &src, &dst, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_samples = m ? src.len / 8 / m : 0;
    if (src.len != dst.len || (m && src.len % (8 * m)) || out.len != n_samples * width * 8) {
        PyErr_Format(PyExc_ValueError, "%s: src, dst (S, m) and out (S, %zd) int64 buffers "
                     "expected", name, width);
    } else {
        int status;
        Py_BEGIN_ALLOW_THREADS
        status = fn(n, m, n_samples, src.buf, dst.buf, out.buf);
        Py_END_ALLOW_THREADS
        if (status) {
            PyErr_NoMemory();
        } else {
            result = Py_None;
            Py_INCREF(result);
        }
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    PyBuffer_Release(&out);
    return result;
}

/* Per sample: transitive triples, ordered 3-cycles (three per cycle) and
 * edges whose reverse is present, from (S, m) int64 edge arrays; out and in
 * neighbourhoods as bitsets, one popcount per edge and word. */
static int triangles(Py_ssize_t n, Py_ssize_t m, Py_ssize_t n_samples, const int64_t *src,
                     const int64_t *dst, int64_t *out) {
    Py_ssize_t words = (n + 63) / 64;
    uint64_t *bits = calloc((size_t)(2 * n * words + 1), sizeof(uint64_t));
    if (!bits) return -1;
    uint64_t *outb = bits, *inb = bits + n * words;
    for (Py_ssize_t s = 0; s < n_samples; s++) {
        const int64_t *a = src + s * m, *b = dst + s * m;
        int64_t *res = out + 3 * s;
        int64_t transitive = 0, cyclic = 0, mutual = 0;
        memset(bits, 0, (size_t)(2 * n * words) * sizeof(uint64_t));
        for (Py_ssize_t e = 0; e < m; e++) {
            SET(outb + a[e] * words, b[e]);
            SET(inb + b[e] * words, a[e]);
        }
        for (Py_ssize_t e = 0; e < m; e++) {
            const uint64_t *oa = outb + a[e] * words, *ib = inb + b[e] * words;
            const uint64_t *ob = outb + b[e] * words, *ia = inb + a[e] * words;
            for (Py_ssize_t w = 0; w < words; w++) {
                transitive += __builtin_popcountll(oa[w] & ib[w]);
                cyclic += __builtin_popcountll(ob[w] & ia[w]);
            }
            mutual += (int64_t)GET(ob, a[e]);
        }
        res[0] = transitive;
        res[1] = cyclic;
        res[2] = mutual;
    }
    free(bits);
    return 0;
}

static PyObject *triangle_counts(PyObject *self, PyObject *args) {
    (void)self;
    return run_census(args, "triangle_counts", 3, triangles);
}

/* Tricode (bits: v->u 1, u->v 2, v->w 4, w->v 8, u->w 16, w->u 32) to the
 * index of its class in motifs.catalog.TRIAD_CODES, as in Batagelj & Mrvar. */
static const int8_t TRICODE_CLASS[64] = {
    0, 1, 1, 2, 1, 3, 5, 7, 1, 5, 4, 6, 2, 7, 6, 10, 1, 5, 3, 7, 4, 8, 8, 12, 5, 9, 8, 13,
    6, 13, 11, 14, 1, 4, 5, 6, 5, 8, 9, 13, 3, 8, 8, 11, 7, 12, 13, 14, 2, 6, 7, 10, 6, 11,
    13, 14, 7, 13, 12, 14, 10, 14, 14, 15};

/* Bits of word w (nodes 64w .. 64w+63) at node indices <= x. */
static inline uint64_t upto(Py_ssize_t w, int64_t x) {
    int64_t k = x - 64 * (int64_t)w;
    if (k < 0) return 0;
    if (k >= 63) return ~0ULL;
    return (2ULL << k) - 1;
}

/* Per sample: the full 16-class triad census of a graph that may have mutual
 * dyads (Erdos-Renyi and other nulls that make them), by the subquadratic
 * algorithm of Batagelj & Mrvar (2001) on bitsets: for each linked pair
 * v < u, the third nodes w of the union of their neighbourhoods are visited
 * once per triad; triads with one dyad follow from the size of that union. */
static int full_census(Py_ssize_t n, Py_ssize_t m, Py_ssize_t n_samples, const int64_t *src,
                       const int64_t *dst, int64_t *out) {
    Py_ssize_t words = (n + 63) / 64;
    uint64_t *bits = calloc((size_t)(3 * n * words + words + 1), sizeof(uint64_t));
    if (!bits) return -1;
    uint64_t *outb = bits, *inb = bits + n * words, *nb = bits + 2 * n * words;
    uint64_t *uni = bits + 3 * n * words;
    for (Py_ssize_t s = 0; s < n_samples; s++) {
        const int64_t *a = src + s * m, *b = dst + s * m;
        int64_t *res = out + 16 * s;
        int64_t total = 0;
        memset(bits, 0, (size_t)(3 * n * words) * sizeof(uint64_t));
        memset(res, 0, 16 * sizeof(int64_t));
        for (Py_ssize_t e = 0; e < m; e++) {
            SET(outb + a[e] * words, b[e]);
            SET(inb + b[e] * words, a[e]);
            SET(nb + a[e] * words, b[e]);
            SET(nb + b[e] * words, a[e]);
        }
        for (int64_t v = 0; v < n; v++) {
            const uint64_t *nv = nb + v * words, *ov = outb + v * words, *iv = inb + v * words;
            for (Py_ssize_t wu = v >> 6; wu < words; wu++) {
                uint64_t cand = nv[wu];
                if (wu == (v >> 6)) cand &= (v & 63) == 63 ? 0 : ~0ULL << ((v & 63) + 1);
                while (cand) {
                    int64_t u = wu * 64 + __builtin_ctzll(cand);
                    cand &= cand - 1;
                    const uint64_t *nu = nb + u * words, *ou = outb + u * words,
                                   *iu = inb + u * words;
                    int64_t size = 0;
                    for (Py_ssize_t w = 0; w < words; w++) {
                        uni[w] = nv[w] | nu[w];
                        size += __builtin_popcountll(uni[w]);
                    }
                    size -= 2; /* u and v themselves */
                    int base = (int)GET(ov, u) | (int)GET(iv, u) << 1;
                    /* third nodes w counted once per triad: w > u, or v < w < u and w
                     * not linked to v; then one popcount per link pattern of w to v and
                     * u (bits v->w, w->v, u->w, w->u) instead of a visit per node */
                    int64_t by_links[16] = {0};
                    for (Py_ssize_t w = 0; w < words; w++) {
                        uint64_t upto_u = upto(w, u), upto_v = upto(w, v);
                        /* upto(w, x): bits of word w at indices <= x */
                        uint64_t x = uni[w] & (~upto_u | (upto_u & ~upto_v & ~nv[w]));
                        if (!x) continue;
                        uint64_t lv[4] = {~ov[w] & ~iv[w], ov[w] & ~iv[w], ~ov[w] & iv[w],
                                          ov[w] & iv[w]};
                        uint64_t lu[4] = {~ou[w] & ~iu[w], ou[w] & ~iu[w], ~ou[w] & iu[w],
                                          ou[w] & iu[w]};
                        for (int p = 0; p < 4; p++) {
                            uint64_t xv = x & lv[p];
                            if (!xv) continue;
                            for (int q = 0; q < 4; q++)
                                by_links[p | q << 2] += __builtin_popcountll(xv & lu[q]);
                        }
                    }
                    for (int c = 0; c < 16; c++)
                        if (by_links[c]) res[TRICODE_CLASS[base | c << 2]] += by_links[c];
                    res[base == 3 ? 2 : 1] += n - size - 2;
                }
            }
        }
        for (int q = 1; q < 16; q++) total += res[q];
        res[0] = (int64_t)n * (n - 1) * (n - 2) / 6 - total;
    }
    free(bits);
    return 0;
}

static PyObject *triad_census_full(PyObject *self, PyObject *args) {
    (void)self;
    return run_census(args, "triad_census_full", 16, full_census);
}

/* ------------------------------------------------------------------------
 * The size-4 census (motifs.census._quad_cells) of oriented graphs: every
 * sum over the *links* (row = edge a -> b, c a common neighbour of a and b)
 * in one pass over bitsets, instead of listing the links in numpy.
 *
 * A link's type is t = 2 [c -> a] + [c -> b] (the linked types (1,1),
 * (1,2), (2,1), (2,2) of the census, in that order); with no mutual dyad the
 * four sets out/in(a) & out/in(b) split the common neighbours by type.
 * ------------------------------------------------------------------------ */

/* The hardware popcount where the CPU has one (chosen at load time through
 * glibc's ifunc): the portable build calls libgcc's bit-twiddling routine,
 * several times slower in these loops. */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && defined(__GLIBC__)
#define QUAD_POPCNT __attribute__((target_clones("popcnt", "default")))
#else
#define QUAD_POPCNT
#endif

/* Row (a, b)'s common neighbours of each type t in cm[t * words + w], and
 * for each type the range [lo[t], hi[t]) of words where it is nonzero. */
static inline void quad_row_types(const uint64_t *oa, const uint64_t *ia, const uint64_t *ob,
                                  const uint64_t *ib, Py_ssize_t words, uint64_t *cm,
                                  Py_ssize_t *lo, Py_ssize_t *hi) {
    for (int t = 0; t < 4; t++) {
        const uint64_t *x = t & 2 ? ia : oa, *y = t & 1 ? ib : ob;
        uint64_t *out = cm + t * words;
        lo[t] = words;
        hi[t] = 0;
        for (Py_ssize_t w = 0; w < words; w++)
            if ((out[w] = x[w] & y[w])) {
                if (lo[t] == words) lo[t] = w;
                hi[t] = w + 1;
            }
    }
}

/* Parse the (S, n, words) uint64 out- and in-neighbour bitsets; S, or -1 with an error. */
static Py_ssize_t quad_bits(Py_ssize_t n, Py_buffer *outb, Py_buffer *inb, const char *name) {
    Py_ssize_t words = (n + 63) / 64;
    Py_ssize_t per_sample = n * words * 8;
    if (n < 0 || outb->len != inb->len || (per_sample && outb->len % per_sample)) {
        PyErr_Format(PyExc_ValueError, "%s: out_bits and in_bits must be (S, %zd, %zd) uint64",
                     name, n, words);
        return -1;
    }
    return per_sample ? outb->len / per_sample : 0;
}

/* The links of every row by type, rows in (sample, a, b) order. */
QUAD_POPCNT
static void quad_rows(Py_ssize_t n, Py_ssize_t n_samples, const uint64_t *ob, const uint64_t *ib,
                      uint64_t *cm, int64_t *out) {
    Py_ssize_t words = (n + 63) / 64;
    for (Py_ssize_t s = 0; s < n_samples; s++) {
        const uint64_t *os = ob + s * n * words, *is = ib + s * n * words;
        for (Py_ssize_t a = 0; a < n; a++)
            for (Py_ssize_t wb = 0; wb < words; wb++)
                for (uint64_t bb = os[a * words + wb]; bb; bb &= bb - 1, out += 4) {
                    Py_ssize_t b = wb * 64 + __builtin_ctzll(bb), lo[4], hi[4];
                    quad_row_types(os + a * words, is + a * words, os + b * words,
                                   is + b * words, words, cm, lo, hi);
                    for (int t = 0; t < 4; t++) {
                        out[t] = 0;
                        for (Py_ssize_t w = lo[t]; w < hi[t]; w++)
                            out[t] += __builtin_popcountll(cm[t * words + w]);
                    }
                }
    }
}

/* links_per_row (R, 4) int64: the common neighbours of each type of every row
 * (edge a -> b), rows in (sample, a, b) order as numpy.nonzero lists them. */
static PyObject *quad_row_links(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n;
    Py_buffer outb, inb, res;
    if (!PyArg_ParseTuple(args, "ny*y*w*", &n, &outb, &inb, &res)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_samples = quad_bits(n, &outb, &inb, "quad_row_links");
    Py_ssize_t words = (n + 63) / 64, rows = 0;
    const uint64_t *ob = outb.buf, *ib = inb.buf;
    for (Py_ssize_t w = 0; n_samples > 0 && w < n_samples * n * words; w++)
        rows += __builtin_popcountll(ob[w]);
    uint64_t *cm = malloc((size_t)(4 * words + 1) * sizeof(uint64_t));
    if (n_samples < 0) goto done;
    if (!cm) {
        PyErr_NoMemory();
        goto done;
    }
    if (res.len != rows * 4 * 8) {
        PyErr_Format(PyExc_ValueError, "quad_row_links: out must be (%zd, 4) int64", rows);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    quad_rows(n, n_samples, ob, ib, cm, res.buf);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    free(cm);
    PyBuffer_Release(&outb);
    PyBuffer_Release(&inb);
    PyBuffer_Release(&res);
    return result;
}

/* The width of the packed matrices and node values quad_link_sums reads: the
 * census's four product matrices (two of X N^T, two of M X) interleaved, so
 * that one link reads 16 contiguous bytes per anchor instead of one scattered
 * entry per matrix, and its per-row sums stay in registers. */
#define QUAD_WIDTH 4

typedef struct {
    Py_ssize_t n, words, n_samples, itemsize;
    const uint64_t *outb, *inb;
    const char *packed; /* (S, n, n, QUAD_WIDTH): entries [q, c] of the matrices */
    const char *nodes;  /* (S, n, QUAD_WIDTH): values of the nodes c */
    int64_t *sums;      /* (S, 3, QUAD_WIDTH, 4): [row a, row b, node c][k][t] */
    int64_t *linked;    /* (S, 4, 4): [l, t] */
} quad_sums_t;

/* The sums over the set bits c of words [lo, hi) of packed rows a and b and of the
 * node values at c (float32 or float64 integers), for one type's links of one row.
 * A row's sums are exact in the matrices' own type: float32 holds entries <= n and
 * sums of <= n of them while n <= 4096 (motifs.census._F32_EXACT_N); larger graphs
 * come as float64. */
#define QUAD_GATHER(name, type)                                                              \
    static inline void name(const char *pa_, const char *pb_, const char *pv_,               \
                            const uint64_t *restrict set, Py_ssize_t lo, Py_ssize_t hi,      \
                            int64_t *restrict out, Py_ssize_t t) {                           \
        const type *restrict pa = (const type *)pa_, *restrict pb = (const type *)pb_;       \
        const type *restrict pv = (const type *)pv_;                                         \
        type acc[3][QUAD_WIDTH] = {{0}};                                                     \
        for (Py_ssize_t w = lo; w < hi; w++)                                                 \
            for (uint64_t cc = set[w]; cc; cc &= cc - 1) {                                   \
                Py_ssize_t c = (w * 64 + __builtin_ctzll(cc)) * QUAD_WIDTH;                  \
                for (int k = 0; k < QUAD_WIDTH; k++) {                                       \
                    acc[0][k] += pa[c + k];                                                  \
                    acc[1][k] += pb[c + k];                                                  \
                    acc[2][k] += pv[c + k];                                                  \
                }                                                                            \
            }                                                                                \
        for (int src = 0; src < 3; src++)                                                    \
            for (int k = 0; k < QUAD_WIDTH; k++)                                             \
                out[(src * QUAD_WIDTH + k) * 4 + t] += (int64_t)acc[src][k];                 \
    }
QUAD_GATHER(quad_gather_f32, float)
QUAD_GATHER(quad_gather_f64, double)

/* True when the sample has a 3-cycle a -> b -> c -> a: one AND per edge and word. */
static int quad_has_3cycle(const uint64_t *os, const uint64_t *is, Py_ssize_t n,
                           Py_ssize_t words) {
    for (Py_ssize_t a = 0; a < n; a++)
        for (Py_ssize_t wb = 0; wb < words; wb++)
            for (uint64_t bb = os[a * words + wb]; bb; bb &= bb - 1) {
                const uint64_t *ob = os + (wb * 64 + __builtin_ctzll(bb)) * words;
                for (Py_ssize_t w = 0; w < words; w++)
                    if (ob[w] & is[a * words + w]) return 1;
            }
    return 0;
}

/* The paths c -> d with c in words [lo, hi) of `from` and d in words [t_lo, t_hi)
 * of `to`: one popcount per word where c also has out-neighbours. */
static inline int64_t quad_paths(const uint64_t *from, Py_ssize_t lo, Py_ssize_t hi,
                                 const uint64_t *to, Py_ssize_t t_lo, Py_ssize_t t_hi,
                                 const uint64_t *os, Py_ssize_t words, const Py_ssize_t *first,
                                 const Py_ssize_t *last) {
    int64_t paths = 0;
    for (Py_ssize_t w = lo; w < hi; w++)
        for (uint64_t cc = from[w]; cc; cc &= cc - 1) {
            Py_ssize_t c = w * 64 + __builtin_ctzll(cc);
            const uint64_t *oc = os + c * words;
            Py_ssize_t w0 = t_lo > first[c] ? t_lo : first[c];
            Py_ssize_t w1 = t_hi < last[c] ? t_hi : last[c];
            for (Py_ssize_t x = w0; x < w1; x++) paths += __builtin_popcountll(to[x] & oc[x]);
        }
    return paths;
}

/* The 4-cliques of the sample's undirected skeleton, each counted once: nodes are
 * ranked by (degree, index), fwd[v] holds v's neighbours of higher rank, and a clique
 * is found from its lowest node v, its next u in fwd[v], its third w in
 * fwd[v] & fwd[u], and the fourth in fwd[v] & fwd[u] & fwd[w]. Ranking by degree
 * keeps the forward sets short (Chiba & Nishizeki 1985). */
QUAD_POPCNT
static int64_t quad_4cliques(const uint64_t *os, const uint64_t *is, Py_ssize_t n,
                             Py_ssize_t words, uint64_t *fwd, int64_t *key, uint64_t *both) {
    for (Py_ssize_t v = 0; v < n; v++) {
        int64_t degree = 0;
        for (Py_ssize_t w = 0; w < words; w++)
            degree += __builtin_popcountll(os[v * words + w] | is[v * words + w]);
        key[v] = degree * n + v;
    }
    for (Py_ssize_t v = 0; v < n; v++)
        for (Py_ssize_t w = 0; w < words; w++) {
            uint64_t higher = 0;
            for (uint64_t uu = os[v * words + w] | is[v * words + w]; uu; uu &= uu - 1) {
                int tz = __builtin_ctzll(uu);
                if (key[w * 64 + tz] > key[v]) higher |= (uint64_t)1 << tz;
            }
            fwd[v * words + w] = higher;
        }
    int64_t cliques = 0;
    for (Py_ssize_t v = 0; v < n; v++) {
        const uint64_t *fv = fwd + v * words;
        for (Py_ssize_t wu = 0; wu < words; wu++)
            for (uint64_t uu = fv[wu]; uu; uu &= uu - 1) {
                const uint64_t *fu = fwd + (wu * 64 + __builtin_ctzll(uu)) * words;
                Py_ssize_t lo = words, hi = 0;
                for (Py_ssize_t w = 0; w < words; w++)
                    if ((both[w] = fv[w] & fu[w])) {
                        if (lo == words) lo = w;
                        hi = w + 1;
                    }
                for (Py_ssize_t ww = lo; ww < hi; ww++)
                    for (uint64_t cc = both[ww]; cc; cc &= cc - 1) {
                        const uint64_t *fw = fwd + (ww * 64 + __builtin_ctzll(cc)) * words;
                        for (Py_ssize_t x = lo; x < hi; x++)
                            cliques += __builtin_popcountll(both[x] & fw[x]);
                    }
            }
    }
    return cliques;
}

/* One sample: every link's packed and node values summed by type, and the
 * linked x linked Gram [l, t] = #(row, c of type t, d of type l) with c -> d.
 * Without a 3-cycle every 4-clique is a transitive tournament v1 < v2 < v3 < v4,
 * seen once from each of its six edges as the row (a, b), at the cells [l, t]
 * (0, 0) (0, 1) (1, 1) (0, 3) (1, 3) (3, 3) (motifs.census._TT4_LINKED): the
 * 4-clique count (quad_4cliques) gives the whole Gram. */
QUAD_POPCNT
static void quad_sample(const quad_sums_t *q, Py_ssize_t s, uint64_t *cm, Py_ssize_t *first,
                        Py_ssize_t *last, uint64_t *fwd, int64_t *key) {
    Py_ssize_t n = q->n, words = q->words, row = n * QUAD_WIDTH * q->itemsize;
    const uint64_t *os = q->outb + s * n * words, *is = q->inb + s * n * words;
    const char *packed = q->packed + s * n * row;
    const char *nodes = q->nodes + s * row;
    int64_t *sums = q->sums + s * 3 * QUAD_WIDTH * 4, *linked = q->linked + s * 16;
    int transitive = !quad_has_3cycle(os, is, n, words);
    for (Py_ssize_t v = 0; !transitive && v < n; v++) { /* nonzero words of v's out-set */
        first[v] = words;
        last[v] = 0;
        for (Py_ssize_t w = 0; w < words; w++)
            if (os[v * words + w]) {
                if (first[v] == words) first[v] = w;
                last[v] = w + 1;
            }
    }
    for (Py_ssize_t a = 0; a < n; a++)
        for (Py_ssize_t wb = 0; wb < words; wb++)
            for (uint64_t bb = os[a * words + wb]; bb; bb &= bb - 1) {
                Py_ssize_t b = wb * 64 + __builtin_ctzll(bb), lo[4], hi[4];
                quad_row_types(os + a * words, is + a * words, os + b * words, is + b * words,
                               words, cm, lo, hi);
                for (int t = 0; t < 4; t++) {
                    if (lo[t] == words) continue;
                    if (q->itemsize == 4)
                        quad_gather_f32(packed + a * row, packed + b * row, nodes,
                                        cm + t * words, lo[t], hi[t], sums, t);
                    else
                        quad_gather_f64(packed + a * row, packed + b * row, nodes,
                                        cm + t * words, lo[t], hi[t], sums, t);
                    for (int l = 0; !transitive && l < 4; l++)
                        linked[4 * l + t] += quad_paths(cm + t * words, lo[t], hi[t],
                                                        cm + l * words, lo[l], hi[l], os, words,
                                                        first, last);
                }
            }
    if (transitive) {
        static const int cells[6] = {4 * 0 + 0, 4 * 0 + 1, 4 * 1 + 1, 4 * 0 + 3, 4 * 1 + 3,
                                     4 * 3 + 3};
        int64_t cliques = quad_4cliques(os, is, n, words, fwd, key, cm);
        for (int k = 0; k < 6; k++) linked[cells[k]] = cliques;
    }
}

/* quad_link_sums(n, out_bits, in_bits, packed, nodes, sums, linked). */
static PyObject *quad_link_sums(PyObject *self, PyObject *args) {
    (void)self;
    quad_sums_t q = {0};
    Py_buffer outb, inb, packed, nodes, sums, linked;
    if (!PyArg_ParseTuple(args, "ny*y*y*y*w*w*", &q.n, &outb, &inb, &packed, &nodes, &sums,
                          &linked))
        return NULL;
    PyObject *result = NULL;
    q.words = (q.n + 63) / 64;
    q.n_samples = quad_bits(q.n, &outb, &inb, "quad_link_sums");
    if (q.n_samples < 0) goto done;
    Py_ssize_t cells = q.n_samples * q.n * q.n * QUAD_WIDTH;
    q.itemsize = cells ? packed.len / cells : 4;
    if ((q.itemsize != 4 && q.itemsize != 8) || packed.len != cells * q.itemsize ||
        nodes.len != q.n_samples * q.n * QUAD_WIDTH * q.itemsize) {
        PyErr_Format(PyExc_ValueError, "quad_link_sums: packed must be (%zd, %zd, %zd, %d) and "
                     "nodes (%zd, %zd, %d), both float32 or both float64", q.n_samples, q.n,
                     q.n, QUAD_WIDTH, q.n_samples, q.n, QUAD_WIDTH);
        goto done;
    }
    if (!need(&sums, q.n_samples * 3 * QUAD_WIDTH * 4, 8, "sums") ||
        !need(&linked, q.n_samples * 16, 8, "linked"))
        goto done;
    q.outb = outb.buf;
    q.inb = inb.buf;
    q.packed = packed.buf;
    q.nodes = nodes.buf;
    q.sums = sums.buf;
    q.linked = linked.buf;
    memset(q.sums, 0, (size_t)sums.len);
    memset(q.linked, 0, (size_t)linked.len);
    {
        uint64_t *cm = malloc((size_t)(4 * q.words + 1) * sizeof(uint64_t));
        uint64_t *fwd = malloc((size_t)(q.n * q.words + 1) * sizeof(uint64_t));
        Py_ssize_t *range = malloc((size_t)(2 * q.n + 1) * sizeof(Py_ssize_t));
        int64_t *key = malloc((size_t)(q.n + 1) * sizeof(int64_t));
        if (cm && fwd && range && key) {
            Py_BEGIN_ALLOW_THREADS
            for (Py_ssize_t s = 0; s < q.n_samples; s++)
                quad_sample(&q, s, cm, range, range + q.n, fwd, key);
            Py_END_ALLOW_THREADS
            result = Py_None;
            Py_INCREF(result);
        } else {
            PyErr_NoMemory();
        }
        free(cm);
        free(fwd);
        free(range);
        free(key);
    }
done:
    PyBuffer_Release(&outb);
    PyBuffer_Release(&inb);
    PyBuffer_Release(&packed);
    PyBuffer_Release(&nodes);
    PyBuffer_Release(&sums);
    PyBuffer_Release(&linked);
    return result;
}

/* ------------------------------------------------------------------------
 * A 0/1 sparse matrix (CSR, implicit ones) times a dense one: each output row
 * is the sum of the dense rows its indices name. The size-4 census multiplies
 * the state matrices D_x of sparse samples by dense n x n products this way.
 * ------------------------------------------------------------------------ */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && defined(__GLIBC__)
#define ROWS_WIDE __attribute__((target_clones("avx2", "default")))
#else
#define ROWS_WIDE
#endif

/* Columns are taken in tiles of CSR_TILE, whose sums stay in vector registers while
 * the row's indices are walked (a plain loop over whole rows lets the compiler keep
 * the output in memory and scalar code); the last tile ends at column k and may
 * overlap the one before it, which only writes the same sums twice. */
#define CSR_TILE 32
typedef float csr_f32_vec __attribute__((vector_size(32)));
typedef double csr_f64_vec __attribute__((vector_size(32)));
/* Explicit vector types: with plain arrays GCC's unroll-and-jam at -O3 fuses two
 * index steps into a scalar loop over the sums kept in memory. */
#define CSR_ROW_SUMS(name, type, vec)                                                        \
    static inline void name##_tile(const int64_t *indices, int64_t lo, int64_t hi,          \
                                   Py_ssize_t k, const type *restrict mat,                  \
                                   type *restrict o) {                                      \
        enum { LANES = sizeof(vec) / sizeof(type), VECS = CSR_TILE / LANES };                \
        vec acc[VECS];                                                                       \
        memset(acc, 0, sizeof(acc));                                                         \
        for (int64_t p = lo; p < hi; p++) {                                                  \
            const type *m = mat + indices[p] * k;                                            \
            for (int j = 0; j < VECS; j++) {                                                 \
                vec v;                                                                       \
                memcpy(&v, m + j * LANES, sizeof(vec));                                      \
                acc[j] += v;                                                                 \
            }                                                                                \
        }                                                                                    \
        memcpy(o, acc, sizeof(acc));                                                         \
    }                                                                                        \
    ROWS_WIDE static void name(Py_ssize_t rows, Py_ssize_t k, const int64_t *indptr,        \
                               const int64_t *indices, const type *restrict mat,            \
                               type *restrict out) {                                        \
        for (Py_ssize_t r = 0; r < rows; r++) {                                              \
            type *restrict o = out + r * k;                                                  \
            if (k < CSR_TILE) {                                                              \
                for (Py_ssize_t c = 0; c < k; c++) o[c] = 0;                                 \
                for (int64_t p = indptr[r]; p < indptr[r + 1]; p++)                          \
                    for (Py_ssize_t c = 0; c < k; c++) o[c] += mat[indices[p] * k + c];      \
                continue;                                                                    \
            }                                                                                \
            for (Py_ssize_t c0 = 0;; c0 += CSR_TILE) {                                       \
                if (c0 + CSR_TILE > k) c0 = k - CSR_TILE;                                    \
                name##_tile(indices, indptr[r], indptr[r + 1], k, mat + c0, o + c0);         \
                if (c0 + CSR_TILE == k) break;                                               \
            }                                                                                \
        }                                                                                    \
    }
CSR_ROW_SUMS(csr_rows_f32, float, csr_f32_vec)
CSR_ROW_SUMS(csr_rows_f64, double, csr_f64_vec)

/* A C-contiguous float32 ('f') or float64 ('d') buffer; its item size, or 0 with an error. */
static Py_ssize_t float_buffer(PyObject *obj, Py_buffer *view, int writable, const char *name) {
    int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return 0;
    const char *f = view->format ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if ((strcmp(f, "f") && strcmp(f, "d")) || view->itemsize != (*f == 'f' ? 4 : 8)) {
        PyErr_Format(PyExc_ValueError, "%s must be float32 or float64, not format '%s'", name,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return 0;
    }
    return view->itemsize;
}

/* csr_row_sums(k, indptr, indices, mat, out). */
static PyObject *csr_row_sums(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t k;
    PyObject *mat_obj, *out_obj;
    Py_buffer indptr, indices, mat, res;
    if (!PyArg_ParseTuple(args, "ny*y*OO", &k, &indptr, &indices, &mat_obj, &out_obj))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t itemsize = float_buffer(mat_obj, &mat, 0, "csr_row_sums: mat");
    if (!itemsize) {
        PyBuffer_Release(&indptr);
        PyBuffer_Release(&indices);
        return NULL;
    }
    if (float_buffer(out_obj, &res, 1, "csr_row_sums: out") != itemsize) {
        if (!PyErr_Occurred()) {
            PyBuffer_Release(&res);
            PyErr_SetString(PyExc_ValueError, "csr_row_sums: mat and out must be both float32 "
                            "or both float64");
        }
        PyBuffer_Release(&indptr);
        PyBuffer_Release(&indices);
        PyBuffer_Release(&mat);
        return NULL;
    }
    Py_ssize_t rows = indptr.len / 8 - 1, nnz = indices.len / 8;
    const int64_t *ip = indptr.buf, *ix = indices.buf;
    if (k <= 0 || rows < 0 || indptr.len % 8 || indices.len % 8 ||
        res.len != rows * k * itemsize || mat.len % (k * itemsize)) {
        PyErr_Format(PyExc_ValueError, "csr_row_sums: out must be (rows, %zd) and mat (N, %zd), "
                     "indptr (rows + 1,) and indices int64", k, k);
        goto done;
    }
    Py_ssize_t n_mat = mat.len / (k * itemsize);
    if (ip[0] != 0 || ip[rows] != nnz) {
        PyErr_Format(PyExc_ValueError, "csr_row_sums: indptr must run from 0 to %zd", nnz);
        goto done;
    }
    for (Py_ssize_t r = 0; r < rows; r++)
        if (ip[r + 1] < ip[r]) {
            PyErr_SetString(PyExc_ValueError, "csr_row_sums: indptr must not decrease");
            goto done;
        }
    for (Py_ssize_t p = 0; p < nnz; p++)
        if (ix[p] < 0 || ix[p] >= n_mat) {
            PyErr_Format(PyExc_ValueError, "csr_row_sums: index %lld outside mat's %zd rows",
                         (long long)ix[p], n_mat);
            goto done;
        }
    Py_BEGIN_ALLOW_THREADS
    if (itemsize == 4)
        csr_rows_f32(rows, k, ip, ix, mat.buf, res.buf);
    else
        csr_rows_f64(rows, k, ip, ix, mat.buf, res.buf);
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&indptr);
    PyBuffer_Release(&indices);
    PyBuffer_Release(&mat);
    PyBuffer_Release(&res);
    return result;
}

static PyMethodDef methods[] = {
    {"triangle_counts", triangle_counts, METH_VARARGS,
     "triangle_counts(n, m, src, dst, out)\n\nFor each of S edge sets (int64 (S, m) src and "
     "dst), write to out (S, 3) int64: transitive triples, ordered 3-cycles (3 per cycle) "
     "and edges whose reverse edge exists."},
    {"triad_census_full", triad_census_full, METH_VARARGS,
     "triad_census_full(n, m, src, dst, out)\n\nFor each of S edge sets (int64 (S, m) src and "
     "dst, no self-loops or repeated edges), write its 16-class triad census to out (S, 16) "
     "int64, in motifs.catalog.TRIAD_CODES order."},
    {"switch_samples", switch_samples, METH_VARARGS,
     "switch_samples(n, m, src, dst, allowed, plane, singles, class_start, class_size, dyads, "
     "edge_class, preserve_mutual, single_steps, dyad_steps, chain_len, gap_single_steps, "
     "gap_dyad_steps, seeds, out, out_dyads) -> "
     "accepted\n\nRun Milo's switching chain once per seed; int64 buffers except allowed "
     "(uint64 words: one little-endian bitset of the n*n cells per plane; edge e reads "
     "plane[e]) and seeds (uint64). Writes each sample's edge targets to out (S, m). Samples "
     "come in chains of chain_len: a chain's first sample runs single_steps / dyad_steps "
     "from the real graph, each later one gap_single_steps / gap_dyad_steps from the sample "
     "before it."},
    {"quad_row_links", quad_row_links, METH_VARARGS,
     "quad_row_links(n, out_bits, in_bits, out)\n\nFor the S oriented graphs given by their "
     "out- and in-neighbour bitsets ((S, n, words) uint64, little-endian), write to out (R, 4) "
     "int64 the common neighbours c of each edge a -> b by type 2[c -> a] + [c -> b], edges in "
     "(sample, a, b) order."},
    {"quad_link_sums", quad_link_sums, METH_VARARGS,
     "quad_link_sums(n, out_bits, in_bits, packed, nodes, sums, linked)\n\nOver every link "
     "(edge a -> b, common neighbour c of type t) of the S oriented graphs: sums[s, 0, k, t] "
     "+= packed[s, a, c, k], sums[s, 1, k, t] += packed[s, b, c, k] and sums[s, 2, k, t] += "
     "nodes[s, c, k] (packed (S, n, n, 4) and nodes (S, n, 4), both float32 or both float64, "
     "hold integers), and linked[s, l, t] += the type-l common neighbours d with c -> d; "
     "sums (S, 3, 4, 4) and linked (S, 4, 4) int64 are overwritten."},
    {"csr_row_sums", csr_row_sums, METH_VARARGS,
     "csr_row_sums(k, indptr, indices, mat, out)\n\nout[r] = the sum of mat's rows "
     "indices[indptr[r]:indptr[r + 1]] (a CSR matrix of ones times mat): mat (N, k) and out "
     "(R, k) both float32 or both float64, indptr (R + 1,) and indices int64."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Compiled inner loops of the motif engine: edge switching (motifs.nulls), triangle counts and the size-4 census's link sums (motifs.census).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
