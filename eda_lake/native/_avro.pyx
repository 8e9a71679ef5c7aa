# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The project's Avro code: decoders into Arrow column buffers (Capture EventData blocks,
flat payloads), the checks of every payload body, and the publishers' and captures' encoders.

The envelope is fixed (long, string, string, two maps of a union of long/double/string/bytes/
null, and a nullable body), so one tight loop decodes a whole Avro block into growable C
buffers; Python then wraps them as Arrow arrays without building an object per event. Branch
codes of the unions are passed in, so both vintages of the Properties union work.
"""

from libc.stdint cimport INT32_MAX, INT64_MAX, INT64_MIN, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport (
    datetime_day, datetime_hour, datetime_microsecond, datetime_minute, datetime_month,
    datetime_second, datetime_year, import_datetime,
)
from cpython.unicode cimport PyUnicode_AsUTF8AndSize

import_datetime()

# CloudEvents' attribute names and their bindings' prefixes, as declared once (a module of
# plain Python that imports nothing of eda-lake's).
from eda_lake.shared.cloudevents_names import (
    DATASCHEMA as CE_DATASCHEMA, ID as CE_ID, KAFKA_PREFIX as CE_KAFKA_PREFIX,
    LEGACY_PREFIX as CE_LEGACY_PREFIX, PREFIX as CE_PREFIX, READ_PREFIXES as CE_READ_PREFIXES,
    SOURCE as CE_SOURCE, TIME as CE_TIME, TRACEPARENT as CE_TRACEPARENT, TYPE as CE_TYPE,
)

# Branch type codes, as the caller maps each union branch.
cdef enum:
    T_LONG = 0
    T_DOUBLE = 1
    T_STRING = 2
    T_BYTES = 3
    T_NULL = 4


class DecodeError(ValueError):
    pass


class Oversized(DecodeError):
    """From `BlockDecoder.scan`: record `index` of the scan takes at least `size` bytes."""

    def __init__(self, index, size):
        super().__init__(index, size)
        self.index = index
        self.size = size


cdef class Released:
    """Bytes a column handed over without a copy (the buffer protocol: Arrow wraps them);
    freed when the last array over them goes."""
    cdef uint8_t* data
    cdef Py_ssize_t size

    def __getbuffer__(self, Py_buffer* view, int flags):
        PyBuffer_FillInfo(view, self, self.data, self.size, 1, flags)

    def __releasebuffer__(self, Py_buffer* view):
        pass

    def __dealloc__(self):
        free(self.data)


cdef class Bytes:
    """A growable byte buffer."""
    cdef uint8_t* data
    cdef Py_ssize_t size
    cdef Py_ssize_t capacity

    def __cinit__(self):
        self.capacity = 4096
        self.data = <uint8_t*> malloc(self.capacity)
        self.size = 0
        if self.data == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.data)

    cdef inline void reserve(self, Py_ssize_t extra) except *:
        cdef Py_ssize_t needed = self.size + extra
        cdef uint8_t* grown
        if needed <= self.capacity:
            return
        while self.capacity < needed:
            self.capacity *= 2
        grown = <uint8_t*> realloc(self.data, self.capacity)
        if grown == NULL:
            raise MemoryError()
        self.data = grown

    cdef inline void append(self, const uint8_t* source, Py_ssize_t length) except *:
        self.reserve(length)
        memcpy(self.data + self.size, source, length)
        self.size += length

    cdef inline void zeros(self, Py_ssize_t length) except *:
        self.reserve(length)
        memset(self.data + self.size, 0, length)
        self.size += length

    def finish(self):
        return PyBytes_FromStringAndSize(<char*> self.data, self.size)

    cdef Released release(self):
        """The bytes, handed over without a copy; this buffer starts again empty."""
        cdef Released out = Released.__new__(Released)
        cdef uint8_t* fresh = <uint8_t*> malloc(4096)
        if fresh == NULL:
            raise MemoryError()
        out.data = self.data
        out.size = self.size
        self.data = fresh
        self.capacity = 4096
        self.size = 0
        return out


cdef class Validity:
    """Arrow validity bits, with a null count."""
    cdef Bytes bits
    cdef Py_ssize_t length
    cdef Py_ssize_t nulls

    def __cinit__(self):
        self.bits = Bytes()
        self.length = 0
        self.nulls = 0

    cdef inline void add(self, bint valid) except *:
        if self.length % 8 == 0:
            self.bits.zeros(1)
        if valid:
            self.bits.data[self.length // 8] |= <uint8_t> (1 << (self.length % 8))
        else:
            self.nulls += 1
        self.length += 1

    def finish(self):
        return (self.bits.finish() if self.nulls else None), self.nulls


cdef class Int64Column:
    cdef Bytes values
    cdef Validity validity

    def __cinit__(self):
        self.values = Bytes()
        self.validity = Validity()

    cdef inline void add(self, int64_t value, bint valid) except *:
        self.values.append(<const uint8_t*> &value, 8)
        self.validity.add(valid)

    def finish(self):
        bits, nulls = self.validity.finish()
        return bits, self.values.finish(), nulls, self.validity.length


cdef class Float64Column:
    cdef Bytes values
    cdef Validity validity

    def __cinit__(self):
        self.values = Bytes()
        self.validity = Validity()

    cdef inline void add(self, const uint8_t* raw, bint valid) except *:
        if valid:
            self.values.append(raw, 8)
        else:
            self.values.zeros(8)
        self.validity.add(valid)

    def finish(self):
        bits, nulls = self.validity.finish()
        return bits, self.values.finish(), nulls, self.validity.length


cdef class BinaryColumn:
    """Arrow string/binary layout: int32 offsets, data, validity."""
    cdef Bytes offsets
    cdef Bytes data
    cdef Validity validity
    cdef int32_t end

    def __cinit__(self):
        self.offsets = Bytes()
        self.data = Bytes()
        self.validity = Validity()
        self.end = 0
        self.offsets.append(<const uint8_t*> &self.end, 4)

    cdef inline void add(self, const uint8_t* source, Py_ssize_t length, bint valid) except *:
        if valid and length:
            if length > INT32_MAX - self.end:
                raise DecodeError("a column passes 2 GiB in one batch")
            self.data.append(source, length)
            self.end += <int32_t> length
        self.offsets.append(<const uint8_t*> &self.end, 4)
        self.validity.add(valid)

    def finish(self):
        bits, nulls = self.validity.finish()
        return bits, self.offsets.finish(), self.data.finish(), nulls, self.validity.length

    def release(self):
        """As `finish`, the data handed over without a copy: the column is spent."""
        bits, nulls = self.validity.finish()
        return bits, self.offsets.finish(), self.data.release(), nulls, self.validity.length


cdef class MapColumn:
    """map<string, struct<long, double, string, bytes>>: offsets, keys, the struct's parts."""
    cdef Bytes offsets
    cdef int32_t end
    cdef public BinaryColumn keys
    cdef Validity entry_validity
    cdef public Int64Column longs
    cdef public Float64Column doubles
    cdef public BinaryColumn strings
    cdef public BinaryColumn blobs

    def __cinit__(self):
        self.offsets = Bytes()
        self.end = 0
        self.offsets.append(<const uint8_t*> &self.end, 4)
        self.keys = BinaryColumn()
        self.entry_validity = Validity()
        self.longs = Int64Column()
        self.doubles = Float64Column()
        self.strings = BinaryColumn()
        self.blobs = BinaryColumn()

    cdef inline void close_row(self, int32_t entries) except *:
        self.end += entries
        self.offsets.append(<const uint8_t*> &self.end, 4)

    def release(self):
        """The column's parts, its texts handed over without a copy: the column is spent."""
        bits, nulls = self.entry_validity.finish()
        return {
            "offsets": self.offsets.finish(),
            "keys": self.keys.release(),
            "entry_validity": bits,
            "entry_nulls": nulls,
            "long": self.longs.finish(),
            "double": self.doubles.finish(),
            "string": self.strings.release(),
            "bytes": self.blobs.release(),
        }


cdef inline int64_t read_long(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end) except? -1:
    cdef uint64_t result = 0
    cdef int shift = 0
    cdef uint8_t b
    while True:
        if pos[0] >= end:
            raise DecodeError("truncated long")
        b = buf[pos[0]]
        pos[0] += 1
        if shift == 63 and b > 1:
            raise DecodeError("long longer than 64 bits")
        result |= (<uint64_t> (b & 0x7F)) << shift
        if not (b & 0x80):
            break
        shift += 7
        if shift > 63:
            raise DecodeError("long longer than 10 bytes")
    return <int64_t> ((result >> 1) ^ (-(<int64_t> (result & 1))))


cdef inline Py_ssize_t read_length(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end) except -1:
    cdef int64_t n = read_long(buf, pos, end)
    if n < 0 or n > end - pos[0]:  # not pos + n: that could overflow
        raise DecodeError("string or bytes runs past the block")
    return <Py_ssize_t> n


cdef inline bint key_is(const uint8_t* key, Py_ssize_t length, bytes expected):
    return length == PyBytes_GET_SIZE(expected) and memcmp(key, PyBytes_AS_STRING(expected), length) == 0


cdef bytes K_ENQUEUED = b"x-opt-enqueued-time"
cdef bytes K_PARTITION_KEY = b"x-opt-partition-key"
cdef bytes K_CONTENT_TYPE = b"content-type"
cdef bytes K_KAFKA_KEY = b"x-opt-kafka-key"  # where Event Hubs' Kafka endpoint puts the key
# CloudEvents attributes under each prefix readers accept (AMQP binding current and legacy,
# Kafka binding) and the found[] slot each fills (index // N_CE_PREFIXES) (capture/columnar.py
# FOUND names the slots).
cdef list CE_NAMES = [
    (prefix + attribute).encode()
    for attribute in (CE_ID, CE_TYPE, CE_SOURCE, CE_TIME, CE_DATASCHEMA, CE_TRACEPARENT)
    for prefix in CE_READ_PREFIXES
]
cdef enum:
    N_CE_PREFIXES = 3
    N_CE_NAMES = 18
    # ce id, type, source, time, dataschema, traceparent; partition key; content types; key
    N_FOUND = 10
    F_PARTITION_KEY = 6
    F_SYS_CONTENT_TYPE = 7
    F_PROP_CONTENT_TYPE = 8
    F_KAFKA_KEY = 9
cdef const char* CE_NAME_PTR[18]
cdef Py_ssize_t CE_NAME_LEN[18]
# Whether a property name's first byte may begin an attribute's: most names are passed over
# on it.
cdef bint CE_FIRST_BYTE[256]
cdef Py_ssize_t CE_SHORTEST = min(len(name) for name in CE_NAMES)
if len(CE_READ_PREFIXES) != N_CE_PREFIXES or len(CE_NAMES) != N_CE_NAMES:
    raise ImportError("the CloudEvents prefixes or attributes no longer fit the decoder's slots")
for _i in range(N_CE_NAMES):
    CE_NAME_PTR[_i] = PyBytes_AS_STRING(CE_NAMES[_i])
    CE_NAME_LEN[_i] = PyBytes_GET_SIZE(CE_NAMES[_i])
    CE_FIRST_BYTE[<uint8_t> CE_NAME_PTR[_i][0]] = True


cdef bint is_utf8(const uint8_t* s, Py_ssize_t n):
    """Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF)."""
    cdef Py_ssize_t i = 0
    cdef uint8_t c, c1
    cdef int extra
    while i < n:
        c = s[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            extra = 1
        elif 0xE0 <= c <= 0xEF:
            extra = 2
        elif 0xF0 <= c <= 0xF4:
            extra = 3
        else:
            return False
        if i + extra > n - 1:
            return False
        c1 = s[i + 1]
        if (c1 & 0xC0) != 0x80:
            return False
        if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F):
            return False
        if (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 > 0x8F):
            return False
        if extra >= 2 and (s[i + 2] & 0xC0) != 0x80:
            return False
        if extra == 3 and (s[i + 3] & 0xC0) != 0x80:
            return False
        i += extra + 1
    return True


cdef inline void remember(
    const uint8_t** found_at, Py_ssize_t* found_len, int slot, const uint8_t* value,
    Py_ssize_t length, bint checked,
):
    """The first occurrence of a key wins, as in a dict's setdefault. A bytes value that is
    not UTF-8 is no attribute (`checked`: string values are validated with their column)."""
    if found_at[slot] == NULL and (checked or is_utf8(value, length)):
        found_at[slot] = value
        found_len[slot] = length


cdef Py_ssize_t decode_map(
    const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end, MapColumn out, int* branches,
    int n_branches, bint is_system, const uint8_t** found_at, Py_ssize_t* found_len,
    int64_t* enqueued_ms, bint* has_enqueued,
) except -1:
    cdef int64_t count, branch, value
    cdef int32_t entries = 0
    cdef Py_ssize_t key_len, value_len, j
    cdef const uint8_t* key
    cdef int kind
    cdef int slot
    while True:
        count = read_long(buf, pos, end)
        if count == 0:
            break
        if count < 0:
            count = -count
            read_long(buf, pos, end)  # block size in bytes: not needed
        for j in range(count):
            key_len = read_length(buf, pos, end)
            key = buf + pos[0]
            pos[0] += key_len
            out.keys.add(key, key_len, True)
            branch = read_long(buf, pos, end)
            if branch < 0 or branch >= n_branches:
                raise DecodeError("union branch out of range")
            kind = branches[branch]
            out.entry_validity.add(kind != T_NULL)
            if kind == T_LONG:
                value = read_long(buf, pos, end)
                out.longs.add(value, True)
                out.doubles.add(NULL, False)
                out.strings.add(NULL, 0, False)
                out.blobs.add(NULL, 0, False)
                if is_system and key_is(key, key_len, K_ENQUEUED):
                    enqueued_ms[0] = value
                    has_enqueued[0] = True
            elif kind == T_DOUBLE:
                if pos[0] + 8 > end:
                    raise DecodeError("truncated double")
                out.longs.add(0, False)
                out.doubles.add(buf + pos[0], True)
                pos[0] += 8
                out.strings.add(NULL, 0, False)
                out.blobs.add(NULL, 0, False)
            elif kind == T_STRING or kind == T_BYTES:
                value_len = read_length(buf, pos, end)
                out.longs.add(0, False)
                out.doubles.add(NULL, False)
                if kind == T_STRING:
                    out.strings.add(buf + pos[0], value_len, True)
                    out.blobs.add(NULL, 0, False)
                else:
                    out.strings.add(NULL, 0, False)
                    out.blobs.add(buf + pos[0], value_len, True)
                # Text attributes are read from string or bytes values alike.
                is_text = kind == T_STRING
                if is_system:
                    if key_is(key, key_len, K_PARTITION_KEY):
                        remember(found_at, found_len, F_PARTITION_KEY, buf + pos[0], value_len,
                                 is_text)
                    elif key_is(key, key_len, K_CONTENT_TYPE):
                        remember(found_at, found_len, F_SYS_CONTENT_TYPE, buf + pos[0],
                                 value_len, is_text)
                    elif key_is(key, key_len, K_KAFKA_KEY):
                        remember(found_at, found_len, F_KAFKA_KEY, buf + pos[0], value_len,
                                 is_text)
                elif key_is(key, key_len, K_CONTENT_TYPE):
                    remember(found_at, found_len, F_PROP_CONTENT_TYPE, buf + pos[0], value_len,
                             is_text)
                elif key_len >= CE_SHORTEST and CE_FIRST_BYTE[key[0]]:
                    for slot in range(N_CE_NAMES):
                        if (key_len == CE_NAME_LEN[slot]
                                and memcmp(key, CE_NAME_PTR[slot], key_len) == 0):
                            remember(found_at, found_len, slot // N_CE_PREFIXES, buf + pos[0],
                                     value_len, is_text)
                            break
                pos[0] += value_len
            else:  # null
                out.longs.add(0, False)
                out.doubles.add(NULL, False)
                out.strings.add(NULL, 0, False)
                out.blobs.add(NULL, 0, False)
            entries += 1
    out.close_row(entries)
    return entries


# Scanning: where whole records end in a window of a block, without decoding them. A value
# cut off by the window's end asks for more (`needed`) unless the block ends there (`rest`
# 0: then it is damage); one that takes its record past `limit` sets `oversize`.

cdef struct Scan:
    const uint8_t* buf
    Py_ssize_t pos
    Py_ssize_t end
    Py_ssize_t rest
    Py_ssize_t limit
    Py_ssize_t record
    Py_ssize_t needed
    Py_ssize_t oversize


cdef inline bint scan_long(Scan* s, int64_t* value) except -1:
    """False when the number is cut off by the window (and the block goes on)."""
    cdef Py_ssize_t i = s.pos
    cdef Py_ssize_t stop = s.pos + 10
    if s.rest != 0:
        while i < s.end and i < stop and s.buf[i] >= 0x80:
            i += 1
        if i >= s.end and i < stop:
            s.needed = s.end + 1
            return False
    value[0] = read_long(s.buf, &s.pos, s.end)
    return True


cdef inline bint scan_value(Scan* s) except -1:
    """Pass a string or bytes value; False when cut off or over the limit."""
    cdef int64_t size
    if not scan_long(s, &size):
        return False
    if size < 0 or (s.rest >= 0 and size > s.end - s.pos + s.rest):
        raise DecodeError("string or bytes runs past the block")
    if size > s.limit - (s.pos - s.record):
        s.oversize = s.pos - s.record + size
        return False
    if size > s.end - s.pos:
        s.needed = s.pos + size
        return False
    s.pos += size
    return True


cdef bint scan_map(Scan* s, int* branches, int n_branches) except -1:
    cdef int64_t count, value
    cdef int64_t j
    cdef int kind
    while True:
        if not scan_long(s, &count):
            return False
        if count == 0:
            return True
        if count < 0:
            count = -count
            if not scan_long(s, &value):
                return False
        for j in range(count):
            if not scan_value(s):
                return False
            if not scan_long(s, &value):
                return False
            if value < 0 or value >= n_branches:
                raise DecodeError("union branch out of range")
            kind = branches[value]
            if kind == T_LONG:
                if not scan_long(s, &value):
                    return False
            elif kind == T_DOUBLE:
                if s.pos + 8 > s.end:
                    if s.rest == 0:
                        raise DecodeError("truncated double")
                    s.needed = s.pos + 8
                    return False
                s.pos += 8
            elif kind == T_STRING or kind == T_BYTES:
                if not scan_value(s):
                    return False


cdef Py_ssize_t scan_record(Scan* s, int* system, int n_system, int* properties,
                            int n_properties, int body_null_branch) except -2:
    """Where the record at `s.pos` ends; -1 when it is cut off or over the limit."""
    cdef int64_t value
    if not scan_long(s, &value):
        return -1
    if not scan_value(s) or not scan_value(s):
        return -1
    if not scan_map(s, system, n_system) or not scan_map(s, properties, n_properties):
        return -1
    if not scan_long(s, &value):
        return -1
    if value == 1 - body_null_branch:
        if not scan_value(s):
            return -1
    elif value != body_null_branch:
        raise DecodeError("Body union branch out of range")
    return s.pos


cdef class BlockDecoder:
    """Decodes blocks of one file's EventData records into columns, batch by batch."""
    cdef int system_branches[8]
    cdef int property_branches[8]
    cdef int n_system
    cdef int n_property
    cdef int body_null_branch
    cdef public Int64Column sequence
    cdef public BinaryColumn offset
    cdef public BinaryColumn enqueued_text
    cdef public Int64Column enqueued_ms
    cdef public MapColumn system
    cdef public MapColumn properties
    cdef public BinaryColumn body
    cdef public list found
    cdef public Py_ssize_t rows

    def __init__(self, system_branches, property_branches, int body_null_branch):
        if len(system_branches) > 8 or len(property_branches) > 8:
            raise ValueError("too many union branches")
        self.n_system = len(system_branches)
        self.n_property = len(property_branches)
        for i, b in enumerate(system_branches):
            self.system_branches[i] = b
        for i, b in enumerate(property_branches):
            self.property_branches[i] = b
        self.body_null_branch = body_null_branch
        self.reset()

    def reset(self):
        self.sequence = Int64Column()
        self.offset = BinaryColumn()
        self.enqueued_text = BinaryColumn()
        self.enqueued_ms = Int64Column()
        self.system = MapColumn()
        self.properties = MapColumn()
        self.body = BinaryColumn()
        self.found = [BinaryColumn() for _ in range(N_FOUND)]
        self.rows = 0

    def decode(self, const uint8_t[::1] block, Py_ssize_t start, Py_ssize_t end,
               Py_ssize_t count):
        """Decode `count` records that must fill `block[start:end]` exactly."""
        if start < 0 or start > end or end > block.shape[0]:
            raise ValueError("a range outside the block")
        cdef const uint8_t* buf = &block[0] if block.shape[0] else NULL
        cdef Py_ssize_t pos = start
        cdef Py_ssize_t i, n, k
        cdef int64_t branch, ms
        cdef bint has_ms
        cdef const uint8_t* found_at[N_FOUND]
        cdef Py_ssize_t found_len[N_FOUND]
        cdef BinaryColumn column
        for i in range(count):
            for k in range(N_FOUND):
                found_at[k] = NULL
                found_len[k] = 0
            ms = 0
            has_ms = False
            self.sequence.add(read_long(buf, &pos, end), True)
            n = read_length(buf, &pos, end)
            self.offset.add(buf + pos, n, True)
            pos += n
            n = read_length(buf, &pos, end)
            self.enqueued_text.add(buf + pos, n, True)
            pos += n
            decode_map(buf, &pos, end, self.system, self.system_branches, self.n_system, True,
                       found_at, found_len, &ms, &has_ms)
            decode_map(buf, &pos, end, self.properties, self.property_branches, self.n_property,
                       False, found_at, found_len, &ms, &has_ms)
            self.enqueued_ms.add(ms, has_ms)
            branch = read_long(buf, &pos, end)
            if branch == self.body_null_branch:
                self.body.add(NULL, 0, False)
            elif branch == 1 - self.body_null_branch:
                n = read_length(buf, &pos, end)
                self.body.add(buf + pos, n, True)
                pos += n
            else:
                raise DecodeError("Body union branch out of range")
            for k in range(N_FOUND):
                column = self.found[k]
                column.add(found_at[k], found_len[k], found_at[k] != NULL)
            self.rows += 1
        if pos != end:
            raise DecodeError(f"block has {end - pos} bytes left after {count} records")

    def scan(self, const uint8_t[::1] data, Py_ssize_t start, Py_ssize_t count,
             Py_ssize_t budget, Py_ssize_t rest, Py_ssize_t limit):
        """Whole records in `data` from `start`, without decoding them (`windows`
        `RecordDecoder.scan`): (records, their end, bytes the next needs or 0).
        Stops before a record passing `budget` bytes unless it is the first; `rest`: the
        block's bytes after `data` (-1: unknown); Oversized for a record passing `limit`."""
        if start < 0 or start > data.shape[0]:
            raise ValueError("a start outside the data")
        cdef Scan state
        state.buf = &data[0] if data.shape[0] else NULL
        state.end = data.shape[0]
        state.rest = rest
        state.limit = limit
        state.pos = start
        cdef Py_ssize_t index, record_end, end = start
        for index in range(count):
            state.needed = 0
            state.oversize = -1
            state.record = state.pos
            record_end = scan_record(&state, self.system_branches, self.n_system,
                                     self.property_branches, self.n_property,
                                     self.body_null_branch)
            if state.oversize >= 0:
                raise Oversized(index, state.oversize)
            if record_end < 0:
                return index, end, state.needed
            if index and record_end - start > budget:
                return index, end, 0
            end = record_end
        return count, end, 0



# ---------------------------------------------------------------------------------------------
# Flat registry payloads: records of primitives, enums, fixed, and ["null", T] unions.

cdef enum:
    P_NULL = 0
    P_BOOLEAN = 1
    P_INT = 2
    P_LONG = 3
    P_FLOAT = 4
    P_DOUBLE = 5
    P_BYTES = 6
    P_STRING = 7
    P_ENUM = 8
    P_FIXED = 9
    P_DECIMAL_BYTES = 10  # bytes with logicalType decimal: becomes 16-byte little-endian
    P_DECIMAL_FIXED = 11


# The checks every payload body gets, flat or nested: each value is read by these, both by
# FlatDecoder (into columns) and by BodyWalker (reading only; fastavro then decodes).

cdef inline int64_t read_branch(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end,
                                Py_ssize_t branches) except? -1:
    cdef int64_t branch = read_long(buf, pos, end)
    if branch < 0 or branch >= branches:
        raise DecodeError("union branch out of range")
    return branch


cdef inline uint8_t read_boolean(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end) except? 255:
    if pos[0] >= end:
        raise DecodeError("truncated boolean")
    if buf[pos[0]] > 1:
        raise DecodeError("boolean byte is neither 0 nor 1")
    pos[0] += 1
    return buf[pos[0] - 1]


cdef inline int64_t read_int(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end) except? -1:
    cdef int64_t value = read_long(buf, pos, end)
    if value < -2147483648 or value > 2147483647:
        raise DecodeError(f"int {value} out of range")
    return value


cdef inline int64_t read_enum(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end,
                              Py_ssize_t symbols) except? -1:
    cdef int64_t value = read_long(buf, pos, end)
    if value < 0 or value >= symbols:
        raise DecodeError(f"enum index {value} out of range for {symbols} symbols")
    return value


cdef inline const uint8_t* read_sized(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end,
                                      Py_ssize_t size, str what) except NULL:
    """A float, double or fixed: `size` bytes, which must be there."""
    if size > end - pos[0]:
        raise DecodeError(f"truncated {what}")
    pos[0] += size
    return buf + pos[0] - size


cdef inline const uint8_t* read_bytes(const uint8_t* buf, Py_ssize_t* pos, Py_ssize_t end,
                                      Py_ssize_t* length, bint text) except NULL:
    """A bytes value (`text`: a string, which must be UTF-8): its start and `length`."""
    length[0] = read_length(buf, pos, end)
    if text and not is_utf8(buf + pos[0], length[0]):
        raise DecodeError("string is not UTF-8")
    pos[0] += length[0]
    return buf + pos[0] - length[0]


cdef inline void check_decimal(const uint8_t* raw, Py_ssize_t length, object limit) except *:
    """A big-endian two's complement unscaled value with fewer digits than its precision
    (`limit`: 10 ** precision)."""
    if length > 16:
        raise DecodeError("decimal wider than 128 bits")
    unscaled = int.from_bytes(PyBytes_FromStringAndSize(<const char*> raw, length), "big",
                              signed=True)
    if abs(unscaled) >= limit:
        raise DecodeError(f"decimal has more digits than its precision ({len(str(limit)) - 1})")


cdef class _Field:
    cdef int kind
    cdef int null_branch  # -1: not a union
    cdef int size  # fixed size; number of enum symbols
    cdef object limit  # decimals: 10 ** precision, which no unscaled value may reach
    cdef Int64Column numbers
    cdef BinaryColumn texts
    cdef Bytes decimals
    cdef Validity decimal_validity

    def __cinit__(self, int kind, int null_branch, int size, object limit):
        self.kind = kind
        self.null_branch = null_branch
        self.size = size
        self.limit = limit
        self.reset()

    def reset(self):
        self.numbers = Int64Column()
        self.texts = BinaryColumn()
        self.decimals = Bytes()
        self.decimal_validity = Validity()

    cdef void add_null(self) except *:
        if self.kind == P_BYTES or self.kind == P_STRING or self.kind == P_FIXED:
            self.texts.add(NULL, 0, False)
        elif self.kind == P_DECIMAL_BYTES or self.kind == P_DECIMAL_FIXED:
            self.decimals.zeros(16)
            self.decimal_validity.add(False)
        else:
            self.numbers.add(0, False)

    cdef void add_decimal(self, const uint8_t* raw, Py_ssize_t length) except *:
        """Big-endian two's complement of any length <= 16 into little-endian 16 bytes."""
        cdef uint8_t out[16]
        cdef Py_ssize_t i
        check_decimal(raw, length, self.limit)
        memset(out, 0xFF if (length and raw[0] & 0x80) else 0, 16)
        for i in range(length):
            out[i] = raw[length - 1 - i]
        self.decimals.append(out, 16)
        self.decimal_validity.add(True)

    def finish(self):
        if self.kind == P_BYTES or self.kind == P_STRING or self.kind == P_FIXED:
            return self.texts.finish()
        if self.kind == P_DECIMAL_BYTES or self.kind == P_DECIMAL_FIXED:
            bits, nulls = self.decimal_validity.finish()
            return bits, self.decimals.finish(), nulls, self.decimal_validity.length
        return self.numbers.finish()


cdef const uint8_t* _EMPTY = <const uint8_t*> b""  # where an empty column's bodies point


cdef class FlatDecoder:
    """Decodes payloads of one flat writer schema, each from its own bytes, into columns.

    `plan` lists per writer field (kind, null branch or -1, fixed size or enum symbol count,
    10 ** precision for decimals). A body that fails (or leaves bytes over) is reported by
    index with its reason and adds no row; the checks are the readers above, BodyWalker's.
    """
    cdef list fields
    cdef public list rows
    cdef public list failures

    def __init__(self, plan):
        self.fields = [
            _Field(kind, null_branch, size, limit) for kind, null_branch, size, limit in plan
        ]
        self.rows = []
        self.failures = []

    def decode(self, const int32_t[:] offsets, const uint8_t[:] data, valid=None):
        """Decode the bodies of an Arrow binary column, from its buffers: body i is
        `data[offsets[i]:offsets[i + 1]]` (offsets sliced to the column), null where
        `valid` (one byte per body, when given) is 0."""
        cdef Py_ssize_t count = offsets.shape[0] - 1
        cdef Py_ssize_t size = data.shape[0]
        cdef Py_ssize_t index
        cdef const uint8_t[:] present
        cdef bint nullable = valid is not None
        if nullable:
            present = valid
            if present.shape[0] < count:
                raise ValueError(f"{present.shape[0]} validity flags for {count} bodies")
        for index in range(count + 1):
            if offsets[index] < 0 or offsets[index] > size:
                raise ValueError(f"offset {offsets[index]} at {index} is outside the {size} bytes")
            if index and offsets[index] < offsets[index - 1]:
                raise ValueError(f"offsets go back at {index}")
        cdef const uint8_t* base = &data[0] if size else _EMPTY
        for index in range(count):
            if nullable and not present[index]:
                self.failures.append((index, "no body"))
                continue
            try:
                self._decode_one(base + offsets[index], offsets[index + 1] - offsets[index])
            except DecodeError as exc:
                self._rollback()
                self.failures.append((index, str(exc)))
                continue
            self.rows.append(index)

    cdef void _rollback(self) except *:
        """Drop the partial row a failed body left in the columns."""
        cdef _Field field
        cdef Py_ssize_t length = len(self.rows)
        for field in self.fields:
            _truncate(field, length)

    cdef void _decode_one(self, const uint8_t* buf, Py_ssize_t end) except *:
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t n
        cdef const uint8_t* value_at
        cdef int64_t value
        cdef _Field field
        cdef int kind
        cdef double d
        cdef float f
        for field in self.fields:
            kind = field.kind
            if field.null_branch >= 0:
                if read_branch(buf, &pos, end, 2) == field.null_branch:
                    field.add_null()
                    continue
            if kind == P_NULL:
                field.add_null()
            elif kind == P_BOOLEAN:
                field.numbers.add(read_boolean(buf, &pos, end), True)
            elif kind == P_INT:
                field.numbers.add(read_int(buf, &pos, end), True)
            elif kind == P_LONG:
                field.numbers.add(read_long(buf, &pos, end), True)
            elif kind == P_ENUM:
                field.numbers.add(read_enum(buf, &pos, end, field.size), True)
            elif kind == P_FLOAT:
                memcpy(&f, read_sized(buf, &pos, end, 4, "float"), 4)
                d = f
                field.numbers.add((<int64_t*> &d)[0], True)
            elif kind == P_DOUBLE:
                memcpy(&value, read_sized(buf, &pos, end, 8, "double"), 8)
                field.numbers.add(value, True)
            elif kind == P_DECIMAL_BYTES:
                value_at = read_bytes(buf, &pos, end, &n, False)
                field.add_decimal(value_at, n)
            elif kind == P_BYTES or kind == P_STRING:
                value_at = read_bytes(buf, &pos, end, &n, kind == P_STRING)
                field.texts.add(value_at, n, True)
            elif kind == P_DECIMAL_FIXED:
                field.add_decimal(read_sized(buf, &pos, end, field.size, "fixed"), field.size)
            elif kind == P_FIXED:
                field.texts.add(read_sized(buf, &pos, end, field.size, "fixed"), field.size, True)
        if pos != end:
            raise DecodeError(f"{end - pos} bytes left over after the record")

    def finish(self):
        """Per writer field, its buffers (see _Field.finish), then start over."""
        cdef _Field field
        parts = [field.finish() for field in self.fields]
        for field in self.fields:
            field.reset()
        rows, failures = self.rows, self.failures
        self.rows, self.failures = [], []
        return parts, rows, failures


cdef void _truncate(_Field field, Py_ssize_t length) except *:
    """Cut a field back to `length` rows (used after a failed body)."""
    cdef BinaryColumn texts = field.texts
    cdef Int64Column numbers = field.numbers
    if field.kind == P_BYTES or field.kind == P_STRING or field.kind == P_FIXED:
        if texts.validity.length > length:
            texts.offsets.size = (length + 1) * 4
            texts.end = (<int32_t*> texts.offsets.data)[length]
            texts.data.size = texts.end
            _truncate_validity(texts.validity, length)
    elif field.kind == P_DECIMAL_BYTES or field.kind == P_DECIMAL_FIXED:
        if field.decimal_validity.length > length:
            field.decimals.size = length * 16
            _truncate_validity(field.decimal_validity, length)
    elif numbers.validity.length > length:
        numbers.values.size = length * 8
        _truncate_validity(numbers.validity, length)


cdef void _truncate_validity(Validity validity, Py_ssize_t length) except *:
    cdef Py_ssize_t i
    cdef Py_ssize_t nulls = 0
    for i in range(length):
        if not (validity.bits.data[i // 8] >> (i % 8)) & 1:
            nulls += 1
    if length % 8:
        validity.bits.data[length // 8] &= <uint8_t> ((1 << (length % 8)) - 1)
    validity.bits.size = (length + 7) // 8
    validity.length = length
    validity.nulls = nulls


# Any payload body, nested or not, checked against its writer schema --------------------
# fastavro reads some damaged bodies without complaint: a negative enum index or union
# branch picks from the end of the list (Python indexing), a boolean byte other than 0 or 1
# reads as a value, a decimal wider than its precision only fails later as a whole column.
# BodyWalker reads each value with FlatDecoder's readers, so a body fastavro decodes has
# passed the very checks a flat body passes; it reads the bytes only, decoding stays
# fastavro's. Whether a well-formed value suits later layers (a uuid's text, a timestamp's
# range) silver decides, field by field.

cdef enum:
    W_RECORD = 12
    W_ARRAY = 13
    W_MAP = 14
    W_UNION = 15
    MAX_DEPTH = 1000  # values nested deeper (a recursive writer) are refused, not followed

cdef dict _WALK_PRIMITIVES = {
    "null": P_NULL, "boolean": P_BOOLEAN, "int": P_INT, "long": P_LONG, "float": P_FLOAT,
    "double": P_DOUBLE, "bytes": P_BYTES, "string": P_STRING,
}


cdef class _Node:
    cdef int kind
    cdef Py_ssize_t size  # fixed size; enum symbol count
    cdef object limit  # decimals: 10 ** precision
    cdef list children  # record fields, union branches, or the one array item / map value


cdef Py_ssize_t _walk(_Node node, const uint8_t* buf, Py_ssize_t pos, Py_ssize_t end,
                      int depth) except -1:
    cdef int kind = node.kind
    cdef Py_ssize_t n
    cdef int64_t count, i
    cdef const uint8_t* value_at
    cdef _Node child
    if depth > MAX_DEPTH:
        raise DecodeError("values nested deeper than a reader can follow")
    if kind == P_NULL:
        pass
    elif kind == P_BOOLEAN:
        read_boolean(buf, &pos, end)
    elif kind == P_INT:
        read_int(buf, &pos, end)
    elif kind == P_LONG:
        read_long(buf, &pos, end)
    elif kind == P_ENUM:
        read_enum(buf, &pos, end, node.size)
    elif kind == P_FLOAT:
        read_sized(buf, &pos, end, 4, "float")
    elif kind == P_DOUBLE:
        read_sized(buf, &pos, end, 8, "double")
    elif kind == P_BYTES or kind == P_STRING:
        read_bytes(buf, &pos, end, &n, kind == P_STRING)
    elif kind == P_DECIMAL_BYTES:
        value_at = read_bytes(buf, &pos, end, &n, False)
        check_decimal(value_at, n, node.limit)
    elif kind == P_FIXED:
        read_sized(buf, &pos, end, node.size, "fixed")
    elif kind == P_DECIMAL_FIXED:
        check_decimal(read_sized(buf, &pos, end, node.size, "fixed"), node.size, node.limit)
    elif kind == W_RECORD:
        for child in node.children:
            pos = _walk(child, buf, pos, end, depth + 1)
    elif kind == W_UNION:
        child = node.children[read_branch(buf, &pos, end, len(node.children))]
        pos = _walk(child, buf, pos, end, depth + 1)
    else:  # W_ARRAY, W_MAP: blocks of items, each block a count (and, if negative, a size)
        child = node.children[0]
        while True:
            count = read_long(buf, &pos, end)
            if count == 0:
                break
            if count < 0:
                read_long(buf, &pos, end)  # the block's size in bytes
                count = -count if count != INT64_MIN else INT64_MAX
            if count > end - pos:  # even items of null take one count each
                raise DecodeError(f"array or map block of {count} items runs past the body")
            for i in range(count):
                if kind == W_MAP:
                    read_bytes(buf, &pos, end, &n, True)
                pos = _walk(child, buf, pos, end, depth + 1)
    return pos


cdef class BodyWalker:
    """Checks payload bodies of one writer schema (parsed JSON, with `named`: every named
    type by full and short name) by the rules FlatDecoder applies to flat ones."""
    cdef _Node root
    cdef dict built

    def __init__(self, schema, dict named):
        self.built = {}
        self.root = self._node(schema, named)
        self.built = None

    def problem(self, bytes body):
        """Why `body` is not exactly one value of the schema, or None when it is."""
        cdef Py_ssize_t end = PyBytes_GET_SIZE(body)
        cdef Py_ssize_t pos
        try:
            pos = _walk(self.root, <const uint8_t*> PyBytes_AS_STRING(body), 0, end, 0)
        except DecodeError as exc:
            return str(exc)
        if pos != end:
            return f"{end - pos} bytes left over after the record"
        return None

    cdef _Node _node(self, object schema, dict named):
        cdef _Node node
        if isinstance(schema, str):
            if schema in named:
                return self._named(named[schema], named)
            return self._primitive(schema, {})
        if isinstance(schema, list):
            node = _Node()
            node.kind = W_UNION
            node.children = [self._node(branch, named) for branch in schema]
            return node
        kind = schema["type"]
        if isinstance(kind, (dict, list)):
            return self._node(kind, named)
        if kind in ("record", "error", "enum", "fixed"):
            return self._named(schema, named)
        if kind == "array" or kind == "map":
            node = _Node()
            node.kind = W_ARRAY if kind == "array" else W_MAP
            node.children = [self._node(schema["items" if kind == "array" else "values"], named)]
            return node
        if kind in named:
            return self._named(named[kind], named)
        return self._primitive(kind, schema)

    cdef _Node _named(self, dict schema, dict named):
        """Each named type once; a recursive one refers to its own node."""
        cdef _Node node = self.built.get(id(schema))
        if node is not None:
            return node
        node = self.built[id(schema)] = _Node()
        kind = schema["type"]
        if kind == "enum":
            node.kind = P_ENUM
            node.size = len(schema["symbols"])
        elif kind == "fixed":
            node.size = int(schema["size"])
            node.kind = P_FIXED
            if schema.get("logicalType") == "decimal":
                node.kind = P_DECIMAL_FIXED
                node.limit = 10 ** int(schema["precision"])
        else:
            node.kind = W_RECORD
            node.children = [self._node(f["type"], named) for f in schema.get("fields", [])]
        return node

    cdef _Node _primitive(self, object kind, dict schema):
        cdef _Node node = _Node()
        if kind not in _WALK_PRIMITIVES:
            raise ValueError(f"no such Avro type {kind!r}")
        node.kind = _WALK_PRIMITIVES[kind]
        if node.kind == P_BYTES and schema.get("logicalType") == "decimal":
            node.kind = P_DECIMAL_BYTES
            node.limit = 10 ** int(schema["precision"])
        return node


# Flat record encoding (the publishers' hot path) ---------------------------------------

cdef enum:
    E_NULL = 0
    E_BOOLEAN = 1
    E_INT = 2
    E_LONG = 3
    E_DOUBLE = 4
    E_BYTES = 5
    E_STRING = 6
    E_ENUM = 7
    E_UUID = 8
    E_TIMESTAMP_MICROS = 9
    E_TIMESTAMP_MILLIS = 10
    E_DECIMAL_BYTES = 11

cdef object _UTC = __import__("datetime").timezone.utc
cdef object _EPOCH = __import__("datetime").datetime(1970, 1, 1, tzinfo=_UTC)
cdef object _DATETIME = __import__("datetime").datetime
cdef object _UUID = __import__("uuid").UUID
cdef object _DECIMAL = __import__("decimal").Decimal
cdef object _MISSING = object()


cdef class _Unfit(Exception):
    pass


cdef inline void write_long(Bytes out, int64_t value) except *:
    cdef uint64_t n = (<uint64_t> value << 1) ^ <uint64_t> (value >> 63)
    cdef uint8_t buf[10]
    cdef Py_ssize_t i = 0
    while n > 0x7F:
        buf[i] = <uint8_t> ((n & 0x7F) | 0x80)
        n >>= 7
        i += 1
    buf[i] = <uint8_t> n
    out.append(buf, i + 1)


cdef inline void write_raw(Bytes out, const char* data, Py_ssize_t length) except *:
    write_long(out, length)
    out.append(<const uint8_t*> data, length)


cdef inline int64_t checked_long(object value, int64_t low, int64_t high) except? -1:
    if type(value) is not int or not low <= value <= high:
        raise _Unfit()
    return <int64_t> value


cdef class FlatEncoder:
    """Encodes records of one flat schema to Avro binary, byte for byte as fastavro's
    `schemaless_writer` does, for the values it is sure of; `encode` returns None for any
    other record (a missing field, a value of another type, a naive datetime, a decimal
    whose scale or precision does not fit), which the caller hands to fastavro to encode or
    refuse.

    `plan` lists per field (name, kind, null branch or -1, extra): the symbol -> index dict
    of an enum, (scale, precision) of a decimal.
    """
    cdef list names
    cdef list kinds
    cdef list null_branches
    cdef list extras
    cdef Bytes out

    def __init__(self, plan):
        self.names = [step[0] for step in plan]
        self.kinds = [step[1] for step in plan]
        self.null_branches = [step[2] for step in plan]
        self.extras = [step[3] for step in plan]
        self.out = Bytes()

    def encode(self, record):
        cdef Py_ssize_t i
        cdef int null_branch
        self.out.size = 0
        try:
            for i in range(len(self.names)):
                value = record.get(self.names[i], _MISSING)  # as fastavro reads a record
                if value is _MISSING:
                    raise _Unfit()  # fastavro writes its default, or refuses
                null_branch = self.null_branches[i]
                if null_branch >= 0:
                    if value is None:
                        write_long(self.out, null_branch)
                        continue
                    write_long(self.out, 1 - null_branch)
                self._value(self.kinds[i], value, self.extras[i])
        except (_Unfit, KeyError, TypeError, AttributeError, UnicodeEncodeError, OverflowError):
            return None
        return self.out.finish()

    cdef void _value(self, int kind, object value, object extra) except *:
        cdef const char* text
        cdef Py_ssize_t length
        if kind == E_STRING or kind == E_UUID:
            if kind == E_UUID and isinstance(value, _UUID):
                value = str(value)
            if type(value) is not str:
                raise _Unfit()
            text = PyUnicode_AsUTF8AndSize(value, &length)  # UnicodeEncodeError: surrogates
            write_raw(self.out, text, length)
        elif kind == E_LONG:
            write_long(self.out, checked_long(value, -0x7FFFFFFFFFFFFFFF - 1, 0x7FFFFFFFFFFFFFFF))
        elif kind == E_INT:
            write_long(self.out, checked_long(value, -0x80000000, 0x7FFFFFFF))
        elif kind == E_ENUM:
            if type(value) is not str:
                raise _Unfit()
            write_long(self.out, (<dict> extra)[value])  # KeyError: not a symbol
        elif kind == E_TIMESTAMP_MICROS or kind == E_TIMESTAMP_MILLIS:
            write_long(self.out, _timestamp(value, kind == E_TIMESTAMP_MILLIS))
        elif kind == E_BOOLEAN:
            if value is True:
                self.out.append(<const uint8_t*> b"\x01", 1)
            elif value is False:
                self.out.append(<const uint8_t*> b"\x00", 1)
            else:
                raise _Unfit()
        elif kind == E_DOUBLE:
            if type(value) is not float:
                raise _Unfit()
            self._double(value)
        elif kind == E_BYTES:
            if type(value) is not bytes:
                raise _Unfit()
            write_raw(self.out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
        elif kind == E_DECIMAL_BYTES:
            unscaled = _unscaled(value, extra[0], extra[1])
            encoded = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
            write_raw(self.out, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded))
        elif kind == E_NULL:
            if value is not None:
                raise _Unfit()
        else:
            raise _Unfit()

    cdef void _double(self, double value) except *:
        # Avro doubles are little-endian IEEE 754, as this machine's (x86-64, arm64) are.
        self.out.append(<const uint8_t*> &value, 8)


cdef int64_t _timestamp(object value, bint millis) except? -1:
    """fastavro's arithmetic: time-zone aware datetimes only (it reads naive ones in the
    machine's local zone), or an int taken as is."""
    if type(value) is int:
        return checked_long(value, -0x7FFFFFFFFFFFFFFF - 1, 0x7FFFFFFFFFFFFFFF)
    if not isinstance(value, _DATETIME) or value.tzinfo is None:
        raise _Unfit()
    if type(value) is _DATETIME and value.tzinfo is _UTC:  # the usual case, from its fields
        seconds = (days_from_civil(datetime_year(value), datetime_month(value),
                                   datetime_day(value)) * 86400
                   + datetime_hour(value) * 3600 + datetime_minute(value) * 60
                   + datetime_second(value))
        if millis:
            return seconds * 1000 + datetime_microsecond(value) // 1000
        return seconds * 1000000 + datetime_microsecond(value)
    delta = value - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    if millis:
        total = seconds * 1000 + delta.microseconds // 1000
    else:
        total = seconds * 1000000 + delta.microseconds
    return checked_long(total, -0x7FFFFFFFFFFFFFFF - 1, 0x7FFFFFFFFFFFFFFF)


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    cdef int64_t era = (y if y >= 0 else y - 399) // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef object _unscaled(object value, int scale, int precision):
    """A decimal's unscaled integer as fastavro computes it, if it fits the schema."""
    if type(value) is not _DECIMAL:
        raise _Unfit()
    sign, digits, exponent = value.as_tuple()
    if type(exponent) is not int or len(digits) > precision or exponent + scale < 0:
        raise _Unfit()  # NaN or infinity, too many digits, too fine a scale
    unscaled = 0
    for digit in digits:
        unscaled = unscaled * 10 + digit
    unscaled *= 10 ** (exponent + scale)
    return -unscaled if sign else unscaled


# Trace ids (capture/columnar.py) -------------------------------------------------------

cdef inline bint _lower_hex(const uint8_t* s, Py_ssize_t n):
    cdef Py_ssize_t i
    for i in range(n):
        if not (48 <= s[i] <= 57 or 97 <= s[i] <= 102):
            return False
    return True


cdef inline bint _not_zero(const uint8_t* s, Py_ssize_t n):
    cdef Py_ssize_t i
    for i in range(n):
        if s[i] != 48:
            return True
    return False


cdef inline bint _canonical_traceparent(const uint8_t* p, Py_ssize_t n):
    """`00-<32 hex>-<16 hex>-<2 hex>` in lowercase, neither id all zeros: what eda-lake and
    most producers send."""
    return (n == 55 and p[0] == 48 and p[1] == 48 and p[2] == 45 and p[35] == 45
            and p[52] == 45 and _lower_hex(p + 3, 32) and _lower_hex(p + 36, 16)
            and _lower_hex(p + 53, 2) and _not_zero(p + 3, 32) and _not_zero(p + 36, 16))


def trace_ids(const uint8_t[::1] bits, const int32_t[::1] offsets, const uint8_t[::1] data,
              Py_ssize_t length, object lenient):
    """The trace id of each `traceparent` of a text column given as its Arrow parts (validity
    bits, empty when none is null; int32 offsets; data): (validity bits, ids, nulls), row
    i's id at ids[32 * i:32 * (i + 1)]. The canonical form is read here; any other text goes
    to `lenient` (its bytes -> the trace id, or None), which reads it as
    `shared.trace_context.parse` does."""
    cdef bytearray ids = bytearray(32 * length)
    cdef bytearray valid = bytearray((length + 7) // 8)
    cdef uint8_t[::1] out = ids
    cdef uint8_t[::1] set_bits = valid
    cdef Py_ssize_t i, n, nulls = 0
    cdef const uint8_t* p
    cdef bytes found
    for i in range(length):
        if bits.shape[0] and not (bits[i >> 3] >> (i & 7)) & 1:
            nulls += 1
            continue
        n = offsets[i + 1] - offsets[i]
        p = &data[offsets[i]] if n else NULL
        if _canonical_traceparent(p, n):
            memcpy(&out[32 * i], p + 3, 32)
        else:
            text = lenient(PyBytes_FromStringAndSize(<const char*> p, n))
            if text is None:
                nulls += 1
                continue
            found = (<str> text).encode("ascii")
            if PyBytes_GET_SIZE(found) != 32:
                raise ValueError(f"a trace id of {PyBytes_GET_SIZE(found)} characters")
            memcpy(&out[32 * i], PyBytes_AS_STRING(found), 32)
        set_bits[i >> 3] |= <uint8_t> (1 << (i & 7))
    return valid, ids, nulls


# The CloudEvents Kafka binding (hub/kafka_binding.py) ---------------------------------

cdef str _CE_HEADER = CE_KAFKA_PREFIX
cdef str _CE_PROPERTY = CE_PREFIX
cdef str _CE_LEGACY_PROPERTY = CE_LEGACY_PREFIX
cdef str _CONTENT_TYPE_HEADER = "content-type"
cdef dict _property_keys = {}  # header name -> (its property's Avro string, a CE attribute?)


cdef bytes _avro_string(str text):
    """`text` as an Avro string: its UTF-8 length, then its bytes (UnicodeEncodeError for a
    surrogate)."""
    cdef Py_ssize_t length
    cdef const char* utf8 = PyUnicode_AsUTF8AndSize(text, &length)
    cdef Bytes out = Bytes()
    write_raw(out, utf8, length)
    return out.finish()


cdef tuple _property_key(str header):
    cached = _property_keys.get(header)
    if cached is not None:
        return <tuple> cached
    attribute = header.startswith(_CE_HEADER)
    cached = (
        _avro_string(_CE_PROPERTY + header[len(_CE_HEADER):] if attribute else header),
        attribute,
    )
    if len(_property_keys) < 4096:  # names repeat on every message; bound the cache
        _property_keys[header] = cached
    return <tuple> cached


cdef object _utf8_text(object value):
    """`value` as text if it is text or well-formed UTF-8, else None."""
    if type(value) is str:
        return value
    if type(value) is not bytes:
        raise TypeError(f"a header value or key of type {type(value).__name__}")
    if is_utf8(<const uint8_t*> PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value)):
        return (<bytes> value).decode("utf-8")
    return None


cdef object _properties_into(Bytes out, object headers):
    """Write the property map of a message's headers into `out`; returns the content type
    (the first `content-type` header that is text), which is no property."""
    cdef Bytes entries = Bytes()
    cdef Py_ssize_t count = 0
    cdef bytes data
    cdef tuple property_key
    content_type = None
    if isinstance(headers, dict):
        headers = list(headers.items())
    for name, value in headers or ():
        if name == _CONTENT_TYPE_HEADER and value is not None and content_type is None:
            content_type = _utf8_text(value)
            if content_type is not None:
                continue
        property_key = _property_key(name)
        entries.append(<const uint8_t*> PyBytes_AS_STRING(property_key[0]),
                       PyBytes_GET_SIZE(property_key[0]))
        if value is None:
            entries.append(<const uint8_t*> b"\x08", 1)
        else:
            data = (<str> value).encode("utf-8") if type(value) is str else value
            if property_key[1] and is_utf8(<const uint8_t*> PyBytes_AS_STRING(data),
                                           PyBytes_GET_SIZE(data)):
                entries.append(<const uint8_t*> b"\x04", 1)
            else:
                entries.append(<const uint8_t*> b"\x06", 1)
            write_raw(entries, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        count += 1
    if count:
        write_long(out, count)
        out.append(entries.data, entries.size)
    out.append(<const uint8_t*> b"\x00", 1)
    return content_type


def kafka_properties(headers, key):
    """A Kafka message's headers and key as (Capture's Avro property map, content type,
    partition key): `kafka_binding.from_message`."""
    cdef Bytes out = Bytes()
    content_type = _properties_into(out, headers)
    return out.finish(), content_type, None if key is None else _utf8_text(key)


cdef void _write_record(
    Bytes out, tuple keys, int64_t sequence, bytes offset, bytes enqueued_text, int64_t millis,
    object partition_key, object content_type, const uint8_t* properties,
    Py_ssize_t properties_size, object body,
) except *:
    """One EventData record: `keys` are the system properties' map keys with their union
    branch (sequence number, offset, enqueued time, partition key, content type); `offset`
    is the offset's digits; `enqueued_text` the EnqueuedTimeUtc field, already an Avro
    string; `properties` the application property map, already in Avro."""
    cdef Py_ssize_t system = 3 + (partition_key is not None) + (content_type is not None)
    cdef bytes text
    write_long(out, sequence)
    write_raw(out, PyBytes_AS_STRING(offset), PyBytes_GET_SIZE(offset))
    out.append(<const uint8_t*> PyBytes_AS_STRING(enqueued_text), PyBytes_GET_SIZE(enqueued_text))
    write_long(out, system)
    _append(out, keys[0])
    write_long(out, sequence)
    _append(out, keys[1])
    write_raw(out, PyBytes_AS_STRING(offset), PyBytes_GET_SIZE(offset))
    _append(out, keys[2])
    write_long(out, millis)
    if partition_key is not None:
        _append(out, keys[3])
        text = (<str> partition_key).encode("utf-8")
        write_raw(out, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
    if content_type is not None:
        _append(out, keys[4])
        text = (<str> content_type).encode("utf-8")
        write_raw(out, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
    out.append(<const uint8_t*> b"\x00", 1)
    out.append(properties, properties_size)
    out.append(<const uint8_t*> b"\x02", 1)  # Body is ["null", "bytes"]: branch 1
    if body is None:
        body = b""
    write_raw(out, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body))


cdef inline void _append(Bytes out, bytes data) except *:
    out.append(<const uint8_t*> PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


def event_record(tuple keys, int64_t sequence, bytes offset, bytes enqueued_text,
                 int64_t millis, partition_key, content_type, bytes properties, body):
    """One EventData record of an event (`capture.writer.encode_record`); the arguments
    are `_write_record`'s."""
    cdef Bytes out = Bytes()
    _write_record(out, keys, sequence, offset, enqueued_text, millis, partition_key,
                  content_type, <const uint8_t*> PyBytes_AS_STRING(properties),
                  PyBytes_GET_SIZE(properties), body)
    return out.finish()


cdef class KafkaRecordEncoder:
    """Kafka messages straight to Capture's EventData records, the records `event_record`
    makes of `hub.kafka.to_received(message)`, without an object per event.

    `keys`: `_write_record`'s; `enqueued_text(millis)`: the EnqueuedTimeUtc field of a
    moment (`capture.writer.EnqueuedText`, which formats each second once).
    """
    cdef tuple keys
    cdef object enqueued_text
    cdef Bytes out

    def __init__(self, tuple keys, enqueued_text):
        self.keys = keys
        self.enqueued_text = enqueued_text
        self.out = Bytes()

    def encode(self, message):
        cdef int64_t offset = message.offset()
        cdef int64_t millis = message.timestamp()[1]
        cdef Bytes entries = Bytes()
        key = message.key()
        content_type = _properties_into(entries, message.headers())
        self.out.size = 0
        _write_record(self.out, self.keys, offset, str(offset).encode("ascii"),
                      self.enqueued_text(millis), millis,
                      None if key is None else _utf8_text(key), content_type,
                      entries.data, entries.size, message.value())
        return self.out.finish()


cdef dict _header_names = {}  # property name -> header name


cdef str _header_name(str name):
    cached = _header_names.get(name)
    if cached is not None:
        return <str> cached
    if name.startswith(_CE_PROPERTY):
        header = _CE_HEADER + name[len(_CE_PROPERTY):]
    elif name.startswith(_CE_LEGACY_PROPERTY):
        header = _CE_HEADER + name[len(_CE_LEGACY_PROPERTY):]
    else:
        header = name
    if len(_header_names) < 4096:
        _header_names[name] = header
    return header


def kafka_headers(properties, content_type):
    """An event's AMQP-binding properties as Kafka headers (`kafka_binding.to_headers`);
    ValueError names a property with no header form (a null, a value of another type)."""
    headers = []
    for name, value in properties.items():
        if type(value) is str:
            encoded = (<str> value).encode("utf-8")
        elif type(value) is bytes:
            encoded = value
        elif isinstance(value, (int, float)):  # a bool too, as its name
            encoded = str(value).encode("ascii")
        elif value is None:
            raise ValueError(f"property {name!r} is None; Kafka headers carry bytes only")
        else:
            raise ValueError(
                f"property {name!r} has a {type(value).__name__}; Kafka headers carry text, "
                "bytes and numbers only")
        headers.append((_header_name(name), encoded))
    if content_type is not None:
        headers.append((_CONTENT_TYPE_HEADER, (<str> content_type).encode("utf-8")))
    return headers


# Capture's property map, from a dict (hub/properties.py) ---------------------------------

cdef dict _map_keys = {}  # property name -> its Avro string


def property_map(properties):
    """`map<[long, double, string, bytes, null]>` of a property dict
    (`hub.properties.encode_properties`). TypeError names a property whose name is not text
    or whose value is of another type, ValueError one holding an int past 64 bits or text
    with a lone surrogate: Event Hubs Capture keeps none of them."""
    cdef Bytes out = Bytes()
    cdef const char* text
    cdef Py_ssize_t length
    cdef double number
    if not properties:
        return b"\x00"
    write_long(out, len(properties))
    try:
        for key, value in properties.items():
            name = _map_keys.get(key)
            if name is None:
                if type(key) is not str:
                    raise TypeError(f"property name {key!r} is not text")
                name = _avro_string(key)
                if len(_map_keys) < 4096:  # names repeat on every event; bound the cache
                    _map_keys[key] = name
            out.append(<const uint8_t*> PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))
            kind = type(value)
            if kind is str:
                text = PyUnicode_AsUTF8AndSize(value, &length)
                out.append(<const uint8_t*> b"\x04", 1)
                write_raw(out, text, length)
            elif kind is int:
                out.append(<const uint8_t*> b"\x00", 1)
                write_long(out, checked_long(value, -0x7FFFFFFFFFFFFFFF - 1, 0x7FFFFFFFFFFFFFFF))
            elif kind is float:
                number = value
                out.append(<const uint8_t*> b"\x02", 1)
                out.append(<const uint8_t*> &number, 8)
            elif kind is bytes:
                out.append(<const uint8_t*> b"\x06", 1)
                write_raw(out, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
            elif value is None:
                out.append(<const uint8_t*> b"\x08", 1)
            else:
                raise TypeError(
                    f"property {key!r} has a {kind.__name__}; Event Hubs Capture keeps only "
                    "long, double, string, bytes and null")
    except _Unfit:
        raise ValueError(
            f"property {key!r} holds {value}, past a 64-bit long: Event Hubs Capture keeps "
            "only long, double, string, bytes and null") from None
    except UnicodeEncodeError as exc:
        raise ValueError(f"property {key!r} has text that is not UTF-8: {exc}") from None
    out.append(<const uint8_t*> b"\x00", 1)
    return out.finish()
