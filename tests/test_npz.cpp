// Tests of the N-dimensional .npy reader and the .npz reader (include/rnnlyap/npy.hpp).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/npy.hpp"

namespace rnnlyap {
namespace {

namespace fs = std::filesystem;
using test::deflate_fixed;
using test::deflate_stored;
using test::make_npy_array_bytes;
using test::make_npy_bytes;
using test::make_npy_raw;
using test::make_zip;
using test::npy_data_bytes;
using test::write_file;
using test::zip_crc32;
using test::ZipMember;
using test::ZipOptions;

/// A scratch directory, removed at the end of each test.
class NpzTest : public test::TempDirTest {
 protected:
};

std::size_t product(const std::vector<std::size_t>& shape) {
  std::size_t n = 1;
  for (const std::size_t d : shape) n *= d;
  return n;
}

/// The values the NumPy scripts below generate: ((np.arange(n) - 5) / 7), optionally rounded to
/// float32 (NumPy's astype(np.float32) rounds to nearest, as static_cast<float> does).
std::vector<double> formula(std::size_t n, bool float32) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = (static_cast<double>(i) - 5.0) / 7.0;
    v[i] = float32 ? static_cast<double>(static_cast<float>(x)) : x;
  }
  return v;
}

/// Distinct values, exactly representable in float32.
std::vector<double> distinct(std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = static_cast<double>(i) * 0.5 - 3.25 - (i % 3 == 1 ? 1000.0 : 0.0);
  }
  return v;
}

void expect_array(const NpyArray& a, const std::vector<std::size_t>& shape,
                  const std::vector<double>& c_order) {
  ASSERT_EQ(a.shape, shape);
  ASSERT_EQ(a.data.size(), c_order.size());
  for (std::size_t i = 0; i < c_order.size(); ++i) {
    ASSERT_EQ(a.data[i], c_order[i]) << "at flat index " << i;
  }
}

bool one_printable_line(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char ch) { return ch >= 0x20 && ch < 0x7F; });
}

/// Runs `f`, which must throw InvalidInput with one printable line starting with "<name>: ";
/// returns the rest of the message.
template <class F>
std::string error_of(F&& f, const std::string& name) {
  try {
    f();
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_TRUE(one_printable_line(what)) << what;
    EXPECT_EQ(what.rfind(name + ": ", 0), 0u) << what;
    return what.size() >= name.size() + 2 ? what.substr(name.size() + 2) : what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

std::string npy_error(const std::string& bytes) {
  return error_of([&] { (void)parse_npy_array(bytes, "A.npy"); }, "A.npy");
}

std::string npz_error(const std::string& bytes) {
  return error_of([&] { (void)parse_npz(bytes, "A.npz"); }, "A.npz");
}

/// Whether `s` contains `part`, for EXPECT_PRED2.
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ------------------------------------------------------------------------------------------------
// N-dimensional .npy.

TEST_F(NpzTest, NpyArrayRoundTripsEveryShapeDtypeOrderAndVersion) {
  const std::vector<std::vector<std::size_t>> shapes = {
      {1}, {7}, {3, 5}, {5, 1}, {2, 3, 4}, {4, 1, 3}, {1, 1, 1}, {2, 3, 2, 3}, {3, 2, 1, 2, 2}};
  for (const bool float32 : {false, true}) {
    for (const bool fortran : {false, true}) {
      for (const int version : {1, 2, 3}) {
        for (const auto& shape : shapes) {
          SCOPED_TRACE(::testing::Message()
                       << (float32 ? "<f4" : "<f8") << " fortran=" << fortran << " v" << version
                       << " " << test::npy_shape_text(shape));
          const auto values = distinct(product(shape));
          const std::string bytes = make_npy_array_bytes(values, shape, fortran, float32, version);
          expect_array(parse_npy_array(bytes, "A.npy"), shape, values);
          if (version == 1) {
            const std::string file = path("a.npy");
            write_file(file, bytes);
            expect_array(read_npy_array(file), shape, values);
          }
        }
      }
    }
  }
}

TEST_F(NpzTest, NpyArrayConvertsLargeFortranFilesChunkByChunk) {
  // More than the 4 MiB the file reader decodes at a time, so chunks start mid-way through rows.
  const std::vector<std::size_t> shape = {37, 129, 113};
  const auto values = distinct(product(shape));
  const std::string file = path("big.npy");
  write_file(file, make_npy_array_bytes(values, shape, true, false, 1));
  expect_array(read_npy_array(file), shape, values);
}

TEST_F(NpzTest, NpyArrayAndMatrixAgreeOnTwoDimensionalFiles) {
  const auto values = distinct(12);
  for (const bool fortran : {false, true}) {
    const std::string bytes = make_npy_bytes(values, 3, 4, fortran, false);
    const NpyArray a = parse_npy_array(bytes, "A.npy");
    const NpyMatrix m = parse_npy_matrix(bytes, "A.npy");
    ASSERT_EQ(a.shape, (std::vector<std::size_t>{3, 4}));
    for (std::size_t r = 0; r < 3; ++r) {
      for (std::size_t c = 0; c < 4; ++c) EXPECT_EQ(a.data[r * 4 + c], m.data[r + c * 3]);
    }
  }
}

TEST_F(NpzTest, NpyArrayRejections) {
  const auto dict = [](const std::string& shape, const std::string& descr = "<f8") {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  };
  EXPECT_EQ(npy_error(make_npy_raw(dict("()"), npy_data_bytes({1}, false))),
            "expected an array of at least one dimension, got a 0-D array of shape ()");
  EXPECT_EQ(npy_error(make_npy_raw(dict("(2, 0, 3)"), "")), "array is empty (shape (2, 0, 3))");
  EXPECT_EQ(npy_error(make_npy_raw(dict("(0,)"), "")), "array is empty (shape (0,))");
  EXPECT_EQ(npy_error(make_npy_raw(dict("(4294967296, 4294967296, 4294967296)"), "")),
            "array of shape (4294967296, 4294967296, 4294967296) is too large");
  EXPECT_EQ(npy_error(make_npy_raw(dict("(99999999999999999999999,)"), "")),
            "array of shape (<huge>,) is too large");
  EXPECT_EQ(npy_error(make_npy_raw(dict("(2, 3, 4)"), npy_data_bytes(distinct(23), false))),
            "truncated data: expected 192 bytes, found 184");
  EXPECT_EQ(npy_error(make_npy_raw(dict("(2, 3)", "<i8"), npy_data_bytes(distinct(6), false))),
            "unsupported dtype '<i8' (expected float64 '<f8' or float32 '<f4')");
  std::string many = "(";
  for (int i = 0; i < 65; ++i) many += "1, ";
  EXPECT_PRED2(contains, npy_error(make_npy_raw(dict(many + ")"), npy_data_bytes({1}, false))),
               "has 65 dimensions (at most 64 are supported)");
  // The matrix reader still wants exactly two dimensions.
  const std::string three = make_npy_array_bytes(distinct(24), {2, 3, 4}, false, false);
  EXPECT_EQ(error_of([&] { (void)parse_npy_matrix(three, "W.npy"); }, "W.npy"),
            "expected a 2-D matrix, got a 3-D array of shape (2, 3, 4)");
  // The file reader gives the same messages, after the path.
  EXPECT_EQ(error_of([&] { (void)read_npy_array(path("missing.npy")); }, path("missing.npy")),
            "cannot open: No such file or directory");
}

TEST_F(NpzTest, NpyArrayNamesTheFirstNonFiniteElementInCOrder) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto v = distinct(24);
  v[1 * 12 + 0 * 4 + 2] = nan;  // (1, 0, 2)
  v[1 * 12 + 2 * 4 + 3] = inf;  // later in C order
  for (const bool fortran : {false, true}) {
    for (const bool float32 : {false, true}) {
      EXPECT_EQ(npy_error(make_npy_array_bytes(v, {2, 3, 4}, fortran, float32)),
                "non-finite value NaN at index (1, 0, 2) (0-based)");
    }
  }
  auto w = distinct(5);
  w[3] = -inf;
  EXPECT_EQ(npy_error(make_npy_array_bytes(w, {5}, false, false)),
            "non-finite value -inf at index 3 (0-based)");
}

// ------------------------------------------------------------------------------------------------
// .npz written by this test's own ZIP writer.

struct Expected {
  std::vector<std::size_t> shape;
  std::vector<double> values;  // C order
};

/// Members of several shapes, dtypes and orders, with their keys and expected contents.
std::vector<std::pair<ZipMember, Expected>> sample_members() {
  std::vector<std::pair<ZipMember, Expected>> out;
  const auto add = [&](const std::string& key, std::vector<std::size_t> shape, bool fortran,
                       bool float32, std::uint16_t method, bool stored_blocks = false) {
    const auto values = distinct(product(shape));
    ZipMember m;
    m.name = key + ".npy";
    m.data = make_npy_array_bytes(values, shape, fortran, float32);
    m.method = method;
    m.stored_blocks = stored_blocks;
    out.push_back({m, Expected{std::move(shape), values}});
  };
  add("matrix", {3, 4}, false, false, 0);
  add("cube", {2, 3, 4}, true, true, 8);
  add("vector", {9}, false, true, 8, true);
  add("dir/nested key", {4, 1, 2, 1}, true, false, 0);
  add("long", {2000}, false, false, 8, true);  // several stored blocks (block size 65535)
  return out;
}

void expect_sample(const std::map<std::string, NpyArray>& got,
                   const std::vector<std::pair<ZipMember, Expected>>& members) {
  ASSERT_EQ(got.size(), members.size());
  for (const auto& [m, e] : members) {
    const std::string key = m.name.substr(0, m.name.size() - 4);
    SCOPED_TRACE(key);
    const auto it = got.find(key);
    ASSERT_NE(it, got.end());
    expect_array(it->second, e.shape, e.values);
  }
}

std::vector<ZipMember> zip_members(const std::vector<std::pair<ZipMember, Expected>>& sample) {
  std::vector<ZipMember> out;
  for (const auto& [m, e] : sample) out.push_back(m);
  return out;
}

TEST_F(NpzTest, ReadsStoredAndDeflatedMembers) {
  const auto sample = sample_members();
  for (const bool zip64_local : {true, false}) {
    ZipOptions opt;
    opt.zip64_local = zip64_local;
    const std::string bytes = make_zip(zip_members(sample), opt);
    expect_sample(parse_npz(bytes, "A.npz"), sample);
    const std::string file = path("a.npz");
    write_file(file, bytes);
    expect_sample(read_npz(file), sample);
  }
}

TEST_F(NpzTest, ReadsZip64RecordsAndComments) {
  const auto sample = sample_members();
  ZipOptions opt;
  opt.zip64_central = true;
  opt.zip64_end = true;
  opt.comment = "made by a test; PK\x05\x06 in the comment is not the end record";
  const std::string bytes = make_zip(zip_members(sample), opt);
  expect_sample(parse_npz(bytes, "A.npz"), sample);
  const std::string file = path("a.npz");
  write_file(file, bytes);
  expect_sample(read_npz(file), sample);
}

TEST_F(NpzTest, EmptyArchiveGivesAnEmptyMap) {
  EXPECT_TRUE(parse_npz(make_zip({}), "A.npz").empty());
  ZipOptions opt;
  opt.zip64_end = true;
  EXPECT_TRUE(parse_npz(make_zip({}, opt), "A.npz").empty());
}

TEST_F(NpzTest, DeflateEdgeCases) {
  // Data longer than the 1 MiB the reader inflates at a time, runs of every length, and a member
  // whose deflate stream is split into many stored blocks.
  std::vector<double> values(300000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i % 517 / 8);
  std::vector<ZipMember> members(3);
  members[0].name = "runs.npy";
  members[0].data = make_npy_array_bytes(values, {600, 500}, true, false);
  members[0].method = 8;
  members[1].name = "blocks.npy";
  members[1].data = members[0].data;
  members[1].method = 8;
  members[1].compressed = deflate_stored(members[1].data, 1000);
  members[2].name = "empty-block.npy";  // a stored block of length 0 before the data
  members[2].data = make_npy_array_bytes({1.5, 2.5}, {2}, false, false);
  members[2].method = 8;
  members[2].compressed = std::string("\x00\x00\x00\xFF\xFF", 5) + deflate_stored(members[2].data);
  const auto got = parse_npz(make_zip(members), "A.npz");
  ASSERT_EQ(got.size(), 3u);
  expect_array(got.at("runs"), {600, 500}, values);
  expect_array(got.at("blocks"), {600, 500}, values);
  expect_array(got.at("empty-block"), {2}, {1.5, 2.5});
}

TEST_F(NpzTest, ReadsFromAPipe) {
  const auto sample = sample_members();
  const std::string bytes = make_zip(zip_members(sample));
  const std::string fifo = path("pipe.npz");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { write_file(fifo, bytes); });
  const auto got = read_npz(fifo);
  writer.join();
  expect_sample(got, sample);

  std::thread writer2([&] { write_file(fifo, "this is not a zip archive"); });
  const std::string what = error_of([&] { (void)read_npz(fifo); }, fifo);
  writer2.join();
  EXPECT_EQ(what, "not a ZIP archive (bad signature)");
}

// ------------------------------------------------------------------------------------------------
// .npz written by NumPy.

bool have_numpy() {
  static const bool ok = test::python_imports("numpy");
  return ok;
}

/// Runs `script` with /usr/bin/python3, with `dir` as sys.argv[1]; returns whether it exited
/// with status 0.
bool run_python(const std::string& script, const std::string& dir) {
  return test::run_program("/usr/bin/python3", {"-c", script, dir}).status == 0;
}

const std::string kPythonValues =
    "import sys, io, zipfile\n"
    "import numpy as np\n"
    "d = sys.argv[1]\n"
    "def v(shape, dt):\n"
    "    n = int(np.prod(shape))\n"
    "    return ((np.arange(n) - 5) / 7).reshape(shape).astype(dt)\n";

TEST_F(NpzTest, ReadsNumPySavezAndSavezCompressed) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  const std::string script =
      kPythonValues +
      "arrays = dict(a=v((3, 4), np.float64), b=v((2, 3, 4), np.float32),\n"
      "    c=v((7,), np.float64), f=np.asfortranarray(v((5, 6), np.float64)),\n"
      "    g=np.asfortranarray(v((3, 4, 5), np.float32)))\n"
      "np.savez(d + \"/plain.npz\", **arrays)\n"
      "np.savez_compressed(d + \"/compressed.npz\", big=v((600, 500), "
      "np.float64), **arrays)\n"
      "np.savez(d + \"/positional.npz\", arrays[\"a\"], arrays[\"b\"])\n"
      "np.savez(d + \"/empty.npz\")\n"
      "np.savez(d + \"/int.npz\", x=arrays[\"a\"], i=np.arange(6))\n"
      "np.save(d + \"/plain.npy\", arrays[\"g\"])\n";
  ASSERT_TRUE(run_python(script, dir_.string()));

  const std::map<std::string, std::pair<std::vector<std::size_t>, bool>> expected = {
      {"a", {{3, 4}, false}}, {"b", {{2, 3, 4}, true}}, {"c", {{7}, false}},
      {"f", {{5, 6}, false}}, {"g", {{3, 4, 5}, true}},
  };
  for (const std::string file : {"plain.npz", "compressed.npz"}) {
    SCOPED_TRACE(file);
    const auto got = read_npz(path(file));
    ASSERT_EQ(got.size(), expected.size() + (file == "compressed.npz" ? 1 : 0));
    for (const auto& [key, e] : expected) {
      SCOPED_TRACE(key);
      ASSERT_EQ(got.count(key), 1u);
      expect_array(got.at(key), e.first, formula(product(e.first), e.second));
    }
  }
  expect_array(read_npz(path("compressed.npz")).at("big"), {600, 500}, formula(300000, false));

  const auto positional = read_npz(path("positional.npz"));
  ASSERT_EQ(positional.size(), 2u);
  expect_array(positional.at("arr_0"), {3, 4}, formula(12, false));
  expect_array(positional.at("arr_1"), {2, 3, 4}, formula(24, true));

  EXPECT_TRUE(read_npz(path("empty.npz")).empty());
  expect_array(read_npy_array(path("plain.npy")), {3, 4, 5}, formula(60, true));

  EXPECT_EQ(error_of([&] { (void)read_npz(path("int.npz")); }, path("int.npz")),
            "member 'i.npy': unsupported dtype '<i8' (expected float64 '<f8' or float32 '<f4')");
  EXPECT_EQ(error_of([&] { (void)read_npz(path("plain.npy")); }, path("plain.npy")),
            "not a ZIP archive (this is an .npy file, not an .npz archive)");
}

TEST_F(NpzTest, ReadsPythonZip64EndRecords) {
  // Python's zipfile writes the ZIP64 end of central directory record and locator once an archive
  // has more than 65535 members.
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  const std::string script =
      kPythonValues +
      "buf = io.BytesIO()\n"
      "np.save(buf, v((2,), np.float64))\n"
      "with zipfile.ZipFile(d + \"/many.npz\", \"w\") as z:\n"
      "    for i in range(65537):\n"
      "        with z.open(\"k%05d.npy\" % i, \"w\", force_zip64=True) as f:\n"
      "            f.write(buf.getvalue())\n";
  ASSERT_TRUE(run_python(script, dir_.string()));
  const auto got = read_npz(path("many.npz"));
  ASSERT_EQ(got.size(), 65537u);
  expect_array(got.at("k00000"), {2}, formula(2, false));
  expect_array(got.at("k65536"), {2}, formula(2, false));
}

TEST_F(NpzTest, NumPyReadsThisTestsZip64Archives) {
  // Checks the test's own ZIP writer (used for the ZIP64 cases above) against NumPy's reader.
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not available";
  std::vector<ZipMember> members(3);
  members[0].name = "x.npy";
  members[0].data = make_npy_array_bytes(formula(24, false), {2, 3, 4}, false, false);
  members[1].name = "y.npy";
  members[1].data = make_npy_array_bytes(formula(30, true), {5, 6}, true, true);
  members[1].method = 8;
  members[2].name = "z.npy";
  members[2].data = make_npy_array_bytes(formula(7, false), {7}, false, false);
  members[2].method = 8;
  members[2].stored_blocks = true;
  ZipOptions opt;
  opt.zip64_central = true;
  opt.zip64_end = true;
  opt.comment = "comment";
  write_file(path("mine.npz"), make_zip(members, opt));
  const std::string script = kPythonValues +
                             "z = np.load(d + \"/mine.npz\")\n"
                             "assert sorted(z.files) == [\"x\", \"y\", \"z\"]\n"
                             "assert np.array_equal(z[\"x\"], v((2, 3, 4), np.float64))\n"
                             "assert np.array_equal(z[\"y\"], v((5, 6), np.float32))\n"
                             "assert np.array_equal(z[\"z\"], v((7,), np.float64))\n"
                             "assert zipfile.ZipFile(d + \"/mine.npz\").testzip() is None\n";
  EXPECT_TRUE(run_python(script, dir_.string()));
  EXPECT_EQ(read_npz(path("mine.npz")).size(), 3u);
}

// ------------------------------------------------------------------------------------------------
// Rejections.

/// Offsets of every occurrence of `sig` in `bytes`.
std::vector<std::size_t> find_all(const std::string& bytes, const std::string& sig) {
  std::vector<std::size_t> out;
  for (std::size_t at = bytes.find(sig); at != std::string::npos; at = bytes.find(sig, at + 1)) {
    out.push_back(at);
  }
  return out;
}

void set_le(std::string& bytes, std::size_t at, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

const std::string kLocalSig("PK\x03\x04", 4);
const std::string kCentralSig("PK\x01\x02", 4);
const std::string kEndSig("PK\x05\x06", 4);

ZipMember member(const std::string& name, std::uint16_t method = 0) {
  ZipMember m;
  m.name = name;
  m.data = make_npy_array_bytes(distinct(6), {2, 3}, false, false);
  m.method = method;
  return m;
}

TEST_F(NpzTest, RejectsWhatIsNotAZipArchive) {
  EXPECT_EQ(npz_error(""), "not a ZIP archive (file is empty)");
  EXPECT_EQ(npz_error("hello world, this is not a zip archive"),
            "not a ZIP archive (bad signature)");
  EXPECT_EQ(npz_error(make_npy_bytes({1, 2}, 1, 2, false, false)),
            "not a ZIP archive (this is an .npy file, not an .npz archive)");
  EXPECT_EQ(npz_error("PK\x03"), "truncated ZIP archive (file is only 3 bytes long)");
  EXPECT_EQ(error_of([&] { (void)read_npz(path("missing.npz")); }, path("missing.npz")),
            "cannot open: No such file or directory");
  EXPECT_EQ(error_of([&] { (void)read_npz(dir_.string()); }, dir_.string()),
            "cannot open: Is a directory");
  const std::string empty = path("empty.npz");
  write_file(empty, "");
  EXPECT_EQ(error_of([&] { (void)read_npz(empty); }, empty), "not a ZIP archive (file is empty)");
}

TEST_F(NpzTest, RejectsEveryTruncation) {
  const std::string bytes = make_zip({member("a.npy"), member("b.npy", 8)});
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    (void)npz_error(bytes.substr(0, n));
  }
  EXPECT_EQ(npz_error(bytes.substr(0, bytes.size() / 2)),
            "truncated or corrupt ZIP archive (no end of central directory record)");
  EXPECT_EQ(npz_error(bytes + "x"),
            "truncated or corrupt ZIP archive (no end of central directory record)");
  const std::string file = path("cut.npz");
  write_file(file, bytes.substr(0, bytes.size() - 1));
  EXPECT_EQ(error_of([&] { (void)read_npz(file); }, file),
            "truncated or corrupt ZIP archive (no end of central directory record)");
}

TEST_F(NpzTest, RejectsCrcMismatch) {
  ZipMember stored = member("a.npy");
  ZipMember blocks = member("b.npy", 8);
  blocks.stored_blocks = true;  // the data appears verbatim in the deflate stream
  for (const ZipMember& m : {stored, blocks}) {
    std::string bytes = make_zip({m});
    // The last float of the member: still a valid .npy, with another value.
    const std::size_t at = bytes.find(m.data.substr(m.data.size() - 8)) + 3;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
    EXPECT_PRED2(contains, npz_error(bytes),
                 "member '" + m.name + "': CRC-32 mismatch (the archive says 0x");
    const std::string file = path("crc.npz");
    write_file(file, bytes);
    EXPECT_PRED2(contains, error_of([&] { (void)read_npz(file); }, file), "CRC-32 mismatch");
  }
}

TEST_F(NpzTest, RejectsInvalidMembers) {
  ZipMember ints = member("i.npy");
  ints.data = make_npy_raw("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                           std::string(24, '\0'));
  EXPECT_EQ(npz_error(make_zip({member("a.npy"), ints})),
            "member 'i.npy': unsupported dtype '<i8' (expected float64 '<f8' or float32 '<f4')");
  ZipMember junk = member("j\nk.npy", 8);
  junk.data = "hello";
  EXPECT_EQ(npz_error(make_zip({junk})), "member 'j\\x0Ak.npy': not an .npy file (bad magic)");
  ZipMember scalar = member("s.npy");
  scalar.data = make_npy_raw("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                             npy_data_bytes({1}, false));
  EXPECT_EQ(npz_error(make_zip({scalar})),
            "member 's.npy': expected an array of at least one dimension, got a 0-D array of shape "
            "()");
}

TEST_F(NpzTest, RejectsDuplicateKeys) {
  EXPECT_EQ(npz_error(make_zip({member("a.npy"), member("b.npy"), member("a")})),
            "duplicate key 'a' (member 'a.npy' and member 'a')");
  EXPECT_EQ(npz_error(make_zip({member("a.npy"), member("a.npy", 8)})),
            "duplicate key 'a' (member 'a.npy' and member 'a.npy')");
}

TEST_F(NpzTest, RejectsEncryptionAndOtherMethods) {
  const std::string bytes = make_zip({member("a.npy", 8)});
  const std::size_t local = find_all(bytes, kLocalSig).at(0);
  const std::size_t central = find_all(bytes, kCentralSig).at(0);
  std::string encrypted = bytes;
  set_le(encrypted, local + 6, 1, 2);
  set_le(encrypted, central + 8, 1, 2);
  EXPECT_EQ(npz_error(encrypted),
            "member 'a.npy' is encrypted (encrypted archives are not supported)");
  for (const auto& [method, text] : std::vector<std::pair<int, std::string>>{{12, "12 (bzip2)"},
                                                                             {14, "14 (LZMA)"},
                                                                             {93, "93 (Zstandard)"},
                                                                             {1, "1 (shrink)"},
                                                                             {7, "7"}}) {
    std::string other = bytes;
    set_le(other, local + 8, static_cast<std::uint64_t>(method), 2);
    set_le(other, central + 10, static_cast<std::uint64_t>(method), 2);
    EXPECT_EQ(npz_error(other), "member 'a.npy' uses compression method " + text +
                                    " (only stored and deflate are supported)");
  }
  std::string mismatch = bytes;
  set_le(mismatch, local + 8, 0, 2);
  EXPECT_EQ(npz_error(mismatch),
            "member 'a.npy': local header does not match the central directory (compression "
            "method)");
}

TEST_F(NpzTest, RejectsInconsistentStructure) {
  const std::string bytes = make_zip({member("a.npy"), member("b.npy", 8)});
  const auto centrals = find_all(bytes, kCentralSig);
  const std::size_t end = find_all(bytes, kEndSig).back();

  std::string multi = bytes;
  set_le(multi, end + 4, 1, 2);
  EXPECT_EQ(npz_error(multi), "multi-disk ZIP archives are not supported");

  std::string count = bytes;
  set_le(count, end + 8, 3, 2);
  set_le(count, end + 10, 3, 2);
  EXPECT_PRED2(contains, npz_error(count), "cannot hold 3 entries");
  set_le(count, end + 12, find_all(bytes, kEndSig).back() - centrals[0] + 46, 4);
  set_le(count, end + 16, centrals[0] - 46, 4);
  EXPECT_PRED2(contains, npz_error(count), "central directory entry 0 has a bad signature");

  std::string moved = bytes;
  set_le(moved, end + 16, centrals[0] - 1, 4);
  EXPECT_PRED2(contains, npz_error(moved), "does not end at offset");

  std::string name = bytes;  // the second entry's name changed in the central directory only
  name[centrals[1] + 46] = 'c';
  EXPECT_EQ(npz_error(name),
            "member 'c.npy': local header does not match the central directory (name)");

  std::string crc = bytes;
  crc[centrals[0] + 16] ^= 1;
  EXPECT_EQ(npz_error(crc),
            "member 'a.npy': local header does not match the central directory (CRC-32)");

  std::string offset = bytes;
  set_le(offset, centrals[1] + 42, 5, 4);
  EXPECT_EQ(npz_error(offset), "member 'b.npy': local header has a bad signature");

  std::string beyond = bytes;
  set_le(beyond, centrals[1] + 42, 0xFFFFFFF0, 4);
  EXPECT_PRED2(contains, npz_error(beyond), "does not lie before the central directory");

  std::string saturated = bytes;  // saturated size without a ZIP64 extra field
  set_le(saturated, centrals[0] + 24, 0xFFFFFFFF, 4);
  EXPECT_EQ(npz_error(saturated),
            "member 'a.npy': a size or offset is saturated but there is no ZIP64 extra field");
}

TEST_F(NpzTest, RejectsOverlappingMembers) {
  // The data of member "a.npy" is itself the local header and data of "b.npy", and the central
  // directory points into it: a way to inflate the same bytes twice.
  const ZipMember b = member("b.npy");
  const std::string inner = make_zip({b});
  ZipMember a = member("a.npy");
  a.data = inner.substr(0, find_all(inner, kCentralSig).at(0));
  std::string bytes = make_zip({a, b});
  const auto centrals = find_all(bytes, kCentralSig);
  const std::size_t a_data = 30 + a.name.size() + 20;
  set_le(bytes, centrals[1] + 42, a_data, 4);
  EXPECT_EQ(npz_error(bytes), "corrupt ZIP archive (member 'a.npy' and member 'b.npy' overlap)");
}

TEST_F(NpzTest, RejectsBadDeflateData) {
  ZipMember m = member("a.npy", 8);
  const std::string good = deflate_fixed(m.data);
  m.compressed = std::string("\xFF\xFF\xFF\xFF", 4);
  EXPECT_EQ(npz_error(make_zip({m})), "member 'a.npy': corrupt deflate data (invalid block type)");
  m.compressed = good.substr(0, good.size() - 2);
  EXPECT_EQ(npz_error(make_zip({m})), "member 'a.npy': deflate data is truncated");
  m.compressed = good + "xyz";
  EXPECT_EQ(npz_error(make_zip({m})),
            "member 'a.npy': 3 bytes of compressed data after the end of the deflate stream");
  m.compressed.reset();
  m.claimed_size = m.data.size() - 1;
  EXPECT_EQ(npz_error(make_zip({m})), "member 'a.npy' inflates to more than the " +
                                          std::to_string(m.data.size() - 1) +
                                          " bytes the central directory gives as its size");
  m.claimed_size = m.data.size() + 1;
  EXPECT_EQ(npz_error(make_zip({m})), "member 'a.npy' inflates to " +
                                          std::to_string(m.data.size()) +
                                          " bytes, but the central directory gives its size as " +
                                          std::to_string(m.data.size() + 1));
  ZipMember s = member("s.npy");
  s.claimed_size = s.data.size() + 1;
  EXPECT_PRED2(contains, npz_error(make_zip({s})),
               "member 's.npy' is stored, but its compressed size (");
}

TEST_F(NpzTest, RejectsClaimsBeyondTheSizeCap) {
  ZipMember m = member("a.npy", 8);
  m.claimed_size = std::uint64_t{17} << 30;  // 17 GiB from a few hundred bytes
  ZipOptions opt;
  opt.zip64_central = true;
  EXPECT_EQ(npz_error(make_zip({m}, opt)),
            "archive is too large: its members would take more than 17179869184 bytes "
            "uncompressed");
  // Below the cap, the claim is only believed as far as the data goes.
  m.claimed_size = std::uint64_t{15} << 30;
  EXPECT_PRED2(contains, npz_error(make_zip({m}, opt)), "member 'a.npy' inflates to ");
}

// ------------------------------------------------------------------------------------------------
// Fuzzing: random mutations of valid archives must parse to consistent arrays or throw
// InvalidInput.

class ZipFuzzer {
 public:
  explicit ZipFuzzer(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  char byte() { return static_cast<char>(below(256)); }

  /// Mutates the bytes of an archive.
  void mutate_archive(std::string& b) {
    switch (below(8)) {
      case 0:  // truncation
        b.resize(below(b.size() + 1));
        break;
      case 1:  // bit flips
        for (std::size_t i = 0, n = 1 + below(3); i < n && !b.empty(); ++i) {
          b[below(b.size())] ^= static_cast<char>(1 << below(8));
        }
        break;
      case 2:  // random bytes
        for (std::size_t i = 0, n = 1 + below(4); i < n && !b.empty(); ++i)
          b[below(b.size())] = byte();
        break;
      case 3: {  // a ZIP field near a signature set to an interesting value
        const auto sigs = sig_offsets(b);
        if (sigs.empty()) break;
        const std::size_t at = sigs[below(sigs.size())] + 4 + below(44);
        static const std::vector<std::uint64_t> kValues = {
            0, 1, 2, 8, 12, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFE, 30, 46};
        const std::uint64_t v = kValues[below(kValues.size())];
        const int width = below(2) == 0 ? 2 : 4;
        for (int i = 0; i < width && at + i < b.size(); ++i) {
          b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
        }
        break;
      }
      case 4: {  // insertion or deletion
        const std::size_t at = below(b.size() + 1);
        if (below(2) == 0) {
          b.insert(at, 1 + below(4), byte());
        } else if (at < b.size()) {
          b.erase(at, 1 + below(4));
        }
        break;
      }
      case 5:  // bytes appended or removed at the end
        if (below(2) == 0) {
          for (std::size_t i = 0, n = 1 + below(9); i < n; ++i) b += byte();
        } else {
          b.resize(b.size() - std::min(b.size(), 1 + below(8)));
        }
        break;
      case 6: {  // a signature copied somewhere else
        static const std::vector<std::string> kSigs = {
            std::string("PK\x03\x04", 4), std::string("PK\x01\x02", 4),
            std::string("PK\x05\x06", 4), std::string("PK\x06\x06", 4),
            std::string("PK\x06\x07", 4)};
        const std::string& sig = kSigs[below(kSigs.size())];
        if (b.size() >= 4) b.replace(below(b.size() - 3), 4, sig);
        break;
      }
      default: {  // a chunk duplicated
        if (b.empty()) break;
        const std::size_t from = below(b.size());
        const std::size_t len = 1 + below(std::min<std::size_t>(64, b.size() - from));
        b.insert(below(b.size() + 1), b.substr(from, len));
        break;
      }
    }
  }

  /// Mutates a string of member data (an .npy file or a deflate stream).
  void mutate_data(std::string& d) {
    if (d.empty() || below(5) == 0) {
      d.resize(below(d.size() + 1));
      return;
    }
    for (std::size_t i = 0, n = 1 + below(3); i < n; ++i) {
      if (below(2) == 0) {
        d[below(d.size())] ^= static_cast<char>(1 << below(8));
      } else {
        d[below(d.size())] = byte();
      }
    }
  }

 private:
  static std::vector<std::size_t> sig_offsets(const std::string& b) {
    std::vector<std::size_t> out;
    for (std::size_t at = b.find("PK"); at != std::string::npos; at = b.find("PK", at + 1)) {
      out.push_back(at);
    }
    return out;
  }

  std::mt19937_64 rng_;
};

TEST_F(NpzTest, FuzzedArchivesParseConsistentlyOrThrowInvalidInput) {
  std::vector<std::vector<ZipMember>> member_sets;
  {
    std::vector<ZipMember> stored = {member("a.npy"), member("b.npy")};
    stored[1].data = make_npy_array_bytes(distinct(8), {2, 2, 2}, true, true);
    std::vector<ZipMember> deflated = {member("a.npy", 8), member("c.npy", 8)};
    deflated[1].data = make_npy_array_bytes(distinct(5), {5}, false, false, 2);
    deflated[1].stored_blocks = true;
    std::vector<ZipMember> mixed = {member("x", 8), member("y.npy"), member("z.npy", 8)};
    member_sets = {stored, deflated, mixed};
  }
  std::vector<ZipOptions> options(3);
  options[1].zip64_local = false;
  options[2].zip64_central = true;
  options[2].zip64_end = true;

  ZipFuzzer fuzz(0x2024'0a11'fee1'900dULL);
  constexpr int kIterations = 4000;
  constexpr int kFileEvery = 40;  // also run some through read_npz
  int accepted = 0;
  int rejected = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int it = 0; it < kIterations; ++it) {
    std::vector<ZipMember> members = member_sets[fuzz.below(member_sets.size())];
    const ZipOptions& opt = options[fuzz.below(options.size())];
    std::string bytes;
    switch (fuzz.below(5)) {
      case 0: {  // a valid archive of a mutated .npy member
        fuzz.mutate_data(members[fuzz.below(members.size())].data);
        bytes = make_zip(members, opt);
        break;
      }
      case 1: {  // a valid archive of a valid .npy member with other values (mostly)
        std::string& d = members[fuzz.below(members.size())].data;
        for (std::size_t k = 0, n = 1 + fuzz.below(4); k < n; ++k) {
          d[d.size() - 1 - fuzz.below(24)] = fuzz.byte();  // within the last 24 data bytes
        }
        bytes = make_zip(members, opt);
        break;
      }
      case 2: {  // a mutated deflate stream, with the CRC and size of the original data
        ZipMember& m = members[fuzz.below(members.size())];
        m.method = 8;
        std::string stream = fuzz.below(2) == 0 ? deflate_fixed(m.data) : deflate_stored(m.data);
        fuzz.mutate_data(stream);
        m.compressed = stream;
        bytes = make_zip(members, opt);
        break;
      }
      default:  // a mutated archive
        bytes = make_zip(members, opt);
        for (std::size_t k = 0, n = 1 + fuzz.below(3); k < n; ++k) fuzz.mutate_archive(bytes);
        break;
    }
    const bool via_file = it % kFileEvery == 0;
    const std::string name = via_file ? path("fuzz.npz") : "fuzz.npz";
    if (via_file) write_file(name, bytes);
    try {
      const auto got = via_file ? read_npz(name) : parse_npz(bytes, name);
      ++accepted;
      for (const auto& [key, a] : got) {
        ASSERT_FALSE(a.shape.empty()) << "iteration " << it;
        ASSERT_EQ(product(a.shape), a.data.size()) << "iteration " << it;
        ASSERT_TRUE(
            std::all_of(a.data.begin(), a.data.end(), [](double x) { return std::isfinite(x); }))
            << "iteration " << it;
      }
    } catch (const InvalidInput& e) {
      ++rejected;
      const std::string what = e.what();
      ASSERT_TRUE(one_printable_line(what)) << "iteration " << it << ": " << what;
      ASSERT_EQ(what.rfind(name + ": ", 0), 0u) << "iteration " << it << ": " << what;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << it << ": unexpected exception: " << e.what();
    } catch (...) {
      FAIL() << "iteration " << it << ": unexpected non-standard exception";
    }
  }
  // Both outcomes must actually occur for the test to mean anything.
  EXPECT_GT(accepted, kIterations / 10);
  EXPECT_GT(rejected, kIterations / 2);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  RecordProperty("accepted", accepted);
  RecordProperty("rejected", rejected);
  EXPECT_LT(seconds, 3.0);
}

// The writer, read back by the strict reader above (which accepts float64 arrays of rank ≥ 1 with
// finite entries; numpy reads the rest in tests/python/test_npz_output.py).
TEST(NpzWriter, ArchivesReadBackExactly) {
  const std::vector<double> a = {1.5, -2.25, 1e-300, 3.0, 4.0, 5.0};
  const std::vector<double> b = {42.0};
  const std::string bytes = npz_bytes(
      {npz_float64("matrix", {2, 3}, a), npz_float64("vector", {1}, b), npz_text("note", "λ_1 ✓")});
  // The reader refuses the text member ('<U'): check the float members through an archive
  // without it, and that the archive with it is still a ZIP the reader walks to that member.
  const auto arrays =
      parse_npz(npz_bytes({npz_float64("matrix", {2, 3}, a), npz_float64("vector", {1}, b)}), "x");
  ASSERT_EQ(arrays.size(), 2u);
  EXPECT_EQ(arrays.at("matrix").shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(arrays.at("matrix").data, a);
  EXPECT_EQ(arrays.at("vector").data, b);
  try {
    parse_npz(bytes, "x");
    FAIL() << "a text member is not a float array";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("note"), std::string::npos) << e.what();
  }
  EXPECT_THROW(npz_bytes({npz_float64("a", {3}, a)}), InvalidInput) << "shape and data disagree";
  EXPECT_THROW(npz_bytes({npz_float64("a", {1}, b), npz_float64("a", {1}, b)}), InvalidInput);
  EXPECT_THROW(npz_bytes({npz_float64("", {1}, b)}), InvalidInput);
}

}  // namespace
}  // namespace rnnlyap
