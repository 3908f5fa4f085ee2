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
 * Each edge reads one plane of the `allowed` bitsets (its `plane`): one plane
 * for most nulls, and for causal-config one plane of same-position and one of
 * cross-position cells, so an edge moves only onto cells of its own class.
 *
 * triangle_counts: transitive triples and 3-cycles of many edge sets, the
 * only non-degree terms of the triad census of a graph without mutual dyads.
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

/* One single edge in class order, as run_singles reads it: its endpoints,
 * its class's first position and size, and the bitset of its plane. */
typedef struct {
    int32_t src, dst, class_start, class_size;
    const uint64_t *allowed;
} slot_t;

/* The chain of a network without mutual dyads (attribution graphs): the
 * same moves and draws as run_sample, on the single edges laid out in class
 * order (slot k is edge singles[k]) with everything an attempt reads side
 * by side, and the tests combined without branches, since most attempts
 * fail and a mispredicted branch costs more than the tests. */
static int64_t run_singles(const chain_t *ch, uint64_t seed, int64_t *dst, uint64_t *occ,
                           slot_t *slot) {
    const int64_t n = ch->n, m = ch->n_singles;
    rng_t rng;
    int64_t accepted = 0;

    rng_seed(&rng, seed);
    memset(occ, 0, (size_t)ch->words * sizeof(uint64_t));
    for (int64_t k = 0; k < m; k++) {
        int64_t e = ch->singles[k];
        slot[k].src = (int32_t)ch->src[e];
        slot[k].dst = (int32_t)dst[e];
        slot[k].class_start = (int32_t)ch->class_start[k];
        slot[k].class_size = (int32_t)ch->class_size[k];
        slot[k].allowed = ch->allowed + ch->plane[e] * ch->words;
        SET(occ, ch->src[e] * n + dst[e]);
    }
    for (int64_t step = 0; step < ch->single_steps; step++) {
        slot_t *x = slot + below(&rng, m);
        slot_t *y = slot + x->class_start + below(&rng, x->class_size);
        int64_t a = x->src, b = x->dst, c = y->src, d = y->dst;
        int64_t ad = a * n + d, cb = c * n + b;
        uint64_t ok = (uint64_t)(a != c) & (uint64_t)(b != d) & GET(x->allowed, ad) &
                      GET(y->allowed, cb) & ~GET(occ, ad) & ~GET(occ, cb) & 1ULL;
        if (ch->preserve_mutual) ok &= ~GET(occ, d * n + a) & ~GET(occ, b * n + c) & 1ULL;
        if (ok) {
            CLR(occ, a * n + b);
            CLR(occ, c * n + d);
            SET(occ, ad);
            SET(occ, cb);
            x->dst = (int32_t)d;
            y->dst = (int32_t)b;
            accepted++;
        }
    }
    for (int64_t k = 0; k < m; k++) dst[ch->singles[k]] = slot[k].dst;
    return accepted;
}

/* Run one sample's chain; dst (m) and dyads (2 n_dyads) are updated in place. */
static int64_t run_sample(const chain_t *ch, uint64_t seed, int64_t *dst, int64_t *dyads,
                          uint64_t *occ) {
    const int64_t n = ch->n;
    const int64_t *src = ch->src;
    const uint64_t *allowed = ch->allowed;
    rng_t rng;
    int64_t accepted = 0;
    int64_t steps = ch->single_steps > ch->dyad_steps ? ch->single_steps : ch->dyad_steps;

    rng_seed(&rng, seed);
    memset(occ, 0, (size_t)((n * n + 63) / 64) * sizeof(uint64_t));
    for (int64_t e = 0; e < ch->m; e++) SET(occ, src[e] * n + dst[e]);

    for (int64_t step = 0; step < steps; step++) {
        if (step < ch->single_steps) {
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
        if (step < ch->dyad_steps) {
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
    if (!PyArg_ParseTuple(args, "nny*y*y*y*y*y*y*y*y*pnny*w*w*", &ch.n, &ch.m, &src, &dst0,
                          &allowed, &plane, &singles, &cstart, &csize, &dyads0, &eclass, &pm,
                          &ch.single_steps, &ch.dyad_steps, &seeds, &out, &out_dyads))
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
    if ((ch.single_steps > 0 && ch.n_singles < 1) || (ch.dyad_steps > 0 && ch.n_dyads < 1)) {
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
        ch.one_class = ch.singles[k] == k && ch.class_start[k] == 0 && ch.class_size[k] == ch.m;
    for (int64_t k = 0; k < ch.n_singles; k++) {
        int64_t e = ch.singles[k];
        if (e < 0 || e >= ch.m || ch.class_start[k] < 0 || ch.class_size[k] < 1 ||
            ch.class_start[k] + ch.class_size[k] > ch.n_singles) {
            PyErr_SetString(PyExc_ValueError, "singles, class_start, class_size out of range");
            goto done;
        }
    }
    {
        uint64_t *occ = malloc((size_t)((ch.n * ch.n + 63) / 64 + 1) * sizeof(uint64_t));
        slot_t *edge = malloc((size_t)(ch.n_singles + 1) * sizeof(slot_t));
        if (!occ || !edge || ch.n > INT32_MAX || ch.m > INT32_MAX) {
            free(occ);
            free(edge);
            PyErr_NoMemory();
            goto done;
        }
        int64_t accepted = 0;
        const uint64_t *seed = seeds.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t s = 0; s < n_samples; s++) {
            int64_t *dst = (int64_t *)out.buf + s * ch.m;
            int64_t *dy = (int64_t *)out_dyads.buf + s * 2 * ch.n_dyads;
            memcpy(dst, ch.dst0, (size_t)ch.m * 8);
            memcpy(dy, ch.dyads0, (size_t)ch.n_dyads * 16);
            accepted += ch.dyad_steps ? run_sample(&ch, seed[s], dst, dy, occ)
                                      : run_singles(&ch, seed[s], dst, occ, edge);
        }
        Py_END_ALLOW_THREADS
        free(occ);
        free(edge);
        result = PyLong_FromLongLong(accepted);
    }
done:
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    return result;
}

/* Per sample: transitive triples, ordered 3-cycles (three per cycle) and
 * edges whose reverse is present, from (S, m) int64 edge arrays; out and in
 * neighbourhoods as bitsets, one popcount per edge and word. */
static PyObject *triangle_counts(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n, m;
    Py_buffer src, dst, out;
    if (!PyArg_ParseTuple(args, "nny*y*w*", &n, &m, &src, &dst, &out)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n_samples = m ? src.len / 8 / m : 0;
    if (src.len != dst.len || (m && src.len % (8 * m)) || out.len != n_samples * 3 * 8) {
        PyErr_SetString(PyExc_ValueError, "triangle_counts: src, dst (S, m) and out (S, 3) "
                                          "int64 buffers expected");
        goto done;
    }
    {
        Py_ssize_t words = (n + 63) / 64;
        uint64_t *bits = calloc((size_t)(2 * n * words + 1), sizeof(uint64_t));
        if (!bits) {
            PyErr_NoMemory();
            goto done;
        }
        uint64_t *outb = bits, *inb = bits + n * words;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t s = 0; s < n_samples; s++) {
            const int64_t *a = (const int64_t *)src.buf + s * m, *b = (const int64_t *)dst.buf + s * m;
            int64_t *res = (int64_t *)out.buf + 3 * s;
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
        Py_END_ALLOW_THREADS
        free(bits);
        result = Py_None;
        Py_INCREF(result);
    }
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"triangle_counts", triangle_counts, METH_VARARGS,
     "triangle_counts(n, m, src, dst, out)\n\nFor each of S edge sets (int64 (S, m) src and "
     "dst), write to out (S, 3) int64: transitive triples, ordered 3-cycles (3 per cycle) "
     "and edges whose reverse edge exists."},
    {"switch_samples", switch_samples, METH_VARARGS,
     "switch_samples(n, m, src, dst, allowed, plane, singles, class_start, class_size, dyads, "
     "edge_class, preserve_mutual, single_steps, dyad_steps, seeds, out, out_dyads) -> "
     "accepted\n\nRun Milo's switching chain once per seed; int64 buffers except allowed "
     "(uint64 words: one little-endian bitset of the n*n cells per plane; edge e reads "
     "plane[e]) and seeds (uint64). Writes each sample's edge targets to out (S, m)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Compiled inner loops of the motif engine: edge switching (motifs.nulls) and triangle counts (motifs.census).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
