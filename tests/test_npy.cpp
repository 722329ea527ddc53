// Tests of the .npy reader (include/rnnlyap/npy.hpp).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/npy_columns.hpp"
#include "npy_test_util.hpp"
#include "program_fixture.hpp"
#include "rnnlyap/errors.hpp"
#include "rnnlyap/npy.hpp"

namespace rnnlyap {
namespace {

namespace fs = std::filesystem;
using test::make_npy_bytes;
using test::make_npy_raw;
using test::npy_data_bytes;
using test::npy_header_dict;
using test::write_file;

/// A scratch directory, removed at the end of each test.
class NpyTest : public test::TempDirTest {
 protected:
};

/// Distinct values, exactly representable in float32, that identify their (row, col).
std::vector<double> matrix_values(std::size_t rows, std::size_t cols) {
  std::vector<double> v(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      v[r * cols + c] = static_cast<double>(r) * 100.0 + static_cast<double>(c) + 0.25 -
                        (r % 2 == 1 ? 1000.0 : 0.0);
    }
  }
  return v;
}

void expect_matrix(const NpyMatrix& m, const std::vector<double>& row_major, std::size_t rows,
                   std::size_t cols) {
  ASSERT_EQ(m.rows, rows);
  ASSERT_EQ(m.cols, cols);
  ASSERT_EQ(m.data.size(), rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      EXPECT_EQ(m.data[r + c * rows], row_major[r * cols + c]) << "at (" << r << ", " << c << ")";
    }
  }
}

bool single_line(const std::string& s) {
  return s.find('\n') == std::string::npos && s.find('\r') == std::string::npos;
}

/// The message parse_npy_matrix throws for `bytes`, after checking it is an InvalidInput with one
/// line that starts with the name.
std::string parse_error(const std::string& bytes, const std::string& name = "W.npy") {
  try {
    (void)parse_npy_matrix(bytes, name);
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_TRUE(single_line(what)) << what;
    EXPECT_EQ(what.rfind(name + ": ", 0), 0u) << what;
    EXPECT_GT(what.size(), name.size() + 2) << what;
    return what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

/// As parse_error, through read_npy_matrix on `path`.
std::string read_error(const std::string& path) {
  try {
    (void)read_npy_matrix(path);
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_TRUE(single_line(what)) << what;
    EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
    return what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

// ------------------------------------------------------------------------------------------------
// Valid files.

TEST_F(NpyTest, RoundTripsEveryDtypeOrderAndVersion) {
  const std::vector<std::pair<std::size_t, std::size_t>> shapes = {{3, 5}, {5, 3}, {1, 7}, {7, 1},
                                                                   {1, 1}, {4, 4}, {17, 9}};
  for (const bool float32 : {false, true}) {
    for (const bool fortran : {false, true}) {
      for (const int version : {1, 2, 3}) {
        for (const auto& [rows, cols] : shapes) {
          SCOPED_TRACE(::testing::Message() << (float32 ? "<f4" : "<f8") << " fortran=" << fortran
                                            << " v" << version << " " << rows << "x" << cols);
          const auto values = matrix_values(rows, cols);
          const std::string bytes = make_npy_bytes(values, rows, cols, fortran, float32, version);
          expect_matrix(parse_npy_matrix(bytes, "W.npy"), values, rows, cols);
          const std::string file = path("w.npy");
          write_file(file, bytes);
          expect_matrix(read_npy_matrix(file), values, rows, cols);
        }
      }
    }
  }
}

TEST_F(NpyTest, Float32IsWidenedExactly) {
  const std::vector<double> values = {0.1, -1.0 / 3.0, 1e-30, 3.4e38, -0.0, 1e-45};
  const auto m = parse_npy_matrix(make_npy_bytes(values, 2, 3, false, true), "W.npy");
  for (std::size_t r = 0; r < 2; ++r) {
    for (std::size_t c = 0; c < 3; ++c) {
      EXPECT_EQ(m.data[r + c * 2], static_cast<double>(static_cast<float>(values[r * 3 + c])));
    }
  }
  EXPECT_TRUE(std::signbit(m.data[0 + 1 * 2]));  // -0.0 at (1, 1)
}

TEST_F(NpyTest, Float64KeepsEveryBit) {
  const std::vector<double> values = {0.1,
                                      -1.0 / 3.0,
                                      std::numeric_limits<double>::denorm_min(),
                                      std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::lowest(),
                                      -0.0};
  const auto m = parse_npy_matrix(make_npy_bytes(values, 3, 2, true, false, 2), "W.npy");
  expect_matrix(m, values, 3, 2);
}

TEST_F(NpyTest, AcceptsHeaderVariations) {
  const std::string data = npy_data_bytes({1, 2, 3, 4, 5, 6}, false);  // C order, 2x3
  const std::vector<std::string> dicts = {
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f8'}",
      "{'fortran_order':False,'shape':(2,3),'descr':'<f8',}",
      "  {  \"descr\" : \"<f8\" ,\t'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }  ",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",  // Python 2, v1.0
      "{'descr': '<f8', 'fortran_order': False, 'shape': (+2, 3)}",
      "{'descr': '<f8',\n 'fortran_order': False,\n 'shape': (2, 3)}",
  };
  for (const auto& dict : dicts) {
    SCOPED_TRACE(dict);
    const auto m = parse_npy_matrix(make_npy_raw(dict, data), "W.npy");
    expect_matrix(m, {1, 2, 3, 4, 5, 6}, 2, 3);
  }
  // Unpadded header: 10-byte prefix, header of any length as long as it ends with '\n'.
  const std::string dict = "{'descr':'<f8','fortran_order':True,'shape':(3,2)}\n";
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(dict.size());
  bytes += '\0';
  bytes += dict + data;
  expect_matrix(parse_npy_matrix(bytes, "W.npy"), {1, 4, 2, 5, 3, 6}, 3, 2);
}

TEST_F(NpyTest, ReadsFromAPipe) {
  const auto values = matrix_values(6, 4);
  const std::string bytes = make_npy_bytes(values, 6, 4, false, true, 1);
  const std::string fifo = path("pipe.npy");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { write_file(fifo, bytes); });
  const auto m = read_npy_matrix(fifo);
  writer.join();
  expect_matrix(m, values, 6, 4);

  std::thread writer2([&] { write_file(fifo, bytes + "xyz"); });
  const std::string what = read_error(fifo);
  writer2.join();
  EXPECT_NE(what.find("trailing data: expected 96 bytes, found 99"), std::string::npos) << what;
}

// ------------------------------------------------------------------------------------------------
// Invalid files: each is checked through parse_npy_matrix and, written to a file, through
// read_npy_matrix; both must give the same message.

class NpyRejectTest : public NpyTest {
 protected:
  /// Returns the message (without the name) after checking both entry points agree on it.
  std::string reject(const std::string& bytes) {
    const std::string from_bytes = parse_error(bytes, "W.npy");
    const std::string file = path("W.npy");
    write_file(file, bytes);
    const std::string from_file = read_error(file);
    const std::string tail = from_bytes.size() >= 7 ? from_bytes.substr(7) : from_bytes;
    EXPECT_EQ(from_file, file + ": " + tail);
    return tail;
  }
};

const std::string kData6 = npy_data_bytes({1, 2, 3, 4, 5, 6}, false);

std::string with_dict(const std::string& dict, const std::string& data = kData6, int version = 1) {
  return make_npy_raw(dict, data, version);
}

TEST_F(NpyRejectTest, BadMagic) {
  EXPECT_EQ(reject("hello world, this is not a numpy file"), "not an .npy file (bad magic)");
  std::string bytes = make_npy_bytes({1, 2}, 1, 2, false, false);
  bytes[1] = 'n';
  EXPECT_EQ(reject(bytes), "not an .npy file (bad magic)");
  EXPECT_EQ(reject("\x93NUM"), "truncated header: file is only 4 bytes long");
  EXPECT_EQ(reject(""), "not an .npy file (file is empty)");
}

TEST_F(NpyRejectTest, UnsupportedVersion) {
  std::string bytes = make_npy_bytes({1, 2}, 1, 2, false, false);
  bytes[6] = 4;
  EXPECT_EQ(reject(bytes), "unsupported .npy format version 4.0 (expected 1.0, 2.0 or 3.0)");
  bytes[6] = 1;
  bytes[7] = 1;
  EXPECT_EQ(reject(bytes), "unsupported .npy format version 1.1 (expected 1.0, 2.0 or 3.0)");
}

TEST_F(NpyRejectTest, WrongDtype) {
  EXPECT_EQ(reject(with_dict("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }")),
            "unsupported dtype '<i8' (expected float64 '<f8' or float32 '<f4')");
  for (const std::string dtype : {"<f2", "<c16", "|O", "|u1", "<U3", "=f8", "f8", "<f16", ""}) {
    const std::string what =
        reject(with_dict("{'descr': '" + dtype + "', 'fortran_order': False, 'shape': (2, 3), }"));
    EXPECT_EQ(what, "unsupported dtype '" + dtype + "' (expected float64 '<f8' or float32 '<f4')");
  }
  EXPECT_EQ(reject(with_dict("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (6,)}")),
            "unsupported dtype: structured array (expected float64 '<f8' or float32 '<f4')");
  EXPECT_EQ(reject(with_dict("{'descr': 8, 'fortran_order': False, 'shape': (2, 3)}")),
            "malformed header: 'descr' is not a string");
}

TEST_F(NpyRejectTest, BigEndian) {
  const auto v = matrix_values(2, 3);
  std::string bytes = make_npy_bytes(v, 2, 3, false, false);
  bytes.replace(bytes.find("<f8"), 3, ">f8");
  EXPECT_EQ(reject(bytes), "unsupported dtype '>f8' (expected float64 '<f8' or float32 '<f4')");
  bytes = make_npy_bytes(v, 2, 3, true, true, 3);
  bytes.replace(bytes.find("<f4"), 3, ">f4");
  EXPECT_EQ(reject(bytes), "unsupported dtype '>f4' (expected float64 '<f8' or float32 '<f4')");
}

TEST_F(NpyRejectTest, ShapeNotTwoDimensional) {
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }")),
            "expected a 2-D matrix, got a 1-D array of shape (6,)");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }")),
            "expected a 2-D matrix, got a 3-D array of shape (1, 2, 3)");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                             npy_data_bytes({1}, false))),
            "expected a 2-D matrix, got a 0-D array of shape ()");
  // "(6)" is the integer 6 in Python, not a tuple.
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (6), }")),
            "malformed header: 'shape' is not a tuple of integers");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }")),
            "malformed header: 'shape' is not a tuple of integers");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 'a'), }")),
            "malformed header: 'shape' is not a tuple of integers");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (-2, -3), }")),
            "malformed header: negative dimension in shape (-2, -3)");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 3), }")),
            "malformed header: unexpected character '.' at offset 52");
}

TEST_F(NpyRejectTest, EmptyMatrix) {
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }", "")),
            "matrix is empty (shape (0, 3))");
  EXPECT_EQ(reject(with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 0), }", "")),
            "matrix is empty (shape (3, 0))");
}

TEST_F(NpyRejectTest, HugeShapes) {
  // Sizes that overflow are refused before anything is allocated ...
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (4611686018427387904, 4611686018427387904), }")),
            "matrix of shape (4611686018427387904, 4611686018427387904) is too large");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (2305843009213693952, 1), }")),
            "matrix of shape (2305843009213693952, 1) is too large");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (99999999999999999999999, 2), }")),
            "matrix of shape (<huge>, 2) is too large");
  // ... and sizes that do not overflow are checked against the bytes present.
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (1000000000, 1000000000), }")),
            "truncated data: expected 8000000000000000000 bytes, found 48");
}

TEST_F(NpyRejectTest, TruncatedAndTrailingData) {
  const auto v = matrix_values(2, 3);
  const std::string bytes = make_npy_bytes(v, 2, 3, false, false);
  EXPECT_EQ(reject(bytes.substr(0, bytes.size() - 8)),
            "truncated data: expected 48 bytes, found 40");
  EXPECT_EQ(reject(bytes.substr(0, bytes.size() - 1)),
            "truncated data: expected 48 bytes, found 47");
  EXPECT_EQ(reject(bytes.substr(0, bytes.size() - 48)),
            "truncated data: expected 48 bytes, found 0");
  EXPECT_EQ(reject(bytes + "x"), "trailing data: expected 48 bytes, found 49");
  const std::string f4 = make_npy_bytes(v, 2, 3, true, true, 2);
  EXPECT_EQ(reject(f4 + std::string(8, '\0')), "trailing data: expected 24 bytes, found 32");
}

TEST_F(NpyRejectTest, NonFiniteValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto v = matrix_values(3, 4);
  v[1 * 4 + 2] = nan;
  v[2 * 4 + 0] = inf;  // later in row-major order
  for (const bool fortran : {false, true}) {
    for (const bool float32 : {false, true}) {
      EXPECT_EQ(reject(make_npy_bytes(v, 3, 4, fortran, float32)),
                "non-finite value NaN at row 1, column 2 (0-based)");
    }
  }
  v = matrix_values(3, 4);
  v[2 * 4 + 3] = inf;
  EXPECT_EQ(reject(make_npy_bytes(v, 3, 4, true, false, 3)),
            "non-finite value inf at row 2, column 3 (0-based)");
  v[0 * 4 + 1] = -inf;
  EXPECT_EQ(reject(make_npy_bytes(v, 3, 4, false, true, 2)),
            "non-finite value -inf at row 0, column 1 (0-based)");
  // A float64 too large for float32 is infinite after make_npy_bytes's narrowing.
  v = matrix_values(3, 4);
  v[5] = 1e300;
  EXPECT_EQ(reject(make_npy_bytes(v, 3, 4, false, true)),
            "non-finite value inf at row 1, column 1 (0-based)");
}

TEST_F(NpyRejectTest, MissingFileAndDirectory) {
  const std::string missing = path("does_not_exist.npy");
  EXPECT_EQ(read_error(missing), missing + ": cannot open: No such file or directory");
  const std::string dir = path("a_directory.npy");
  fs::create_directories(dir);
  EXPECT_EQ(read_error(dir), dir + ": cannot open: Is a directory");
  EXPECT_EQ(read_error("/dev/null"), "/dev/null: not an .npy file (file is empty)");
}

TEST_F(NpyRejectTest, HeaderLengthBeyondFile) {
  std::string bytes = make_npy_bytes({1, 2, 3, 4}, 2, 2, false, false, 1);
  const std::size_t size = bytes.size();
  bytes[8] = '\xFF';
  bytes[9] = '\xFF';
  EXPECT_EQ(reject(bytes), "truncated header: header length is 65535 bytes, but only " +
                               std::to_string(size - 10) + " bytes follow");
  bytes = make_npy_bytes({1, 2, 3, 4}, 2, 2, false, false, 2);
  bytes[8] = '\0';
  bytes[9] = '\0';
  bytes[10] = '\x10';  // 1 MiB: the largest header accepted
  bytes[11] = '\0';
  EXPECT_EQ(reject(bytes), "truncated header: header length is 1048576 bytes, but only " +
                               std::to_string(bytes.size() - 12) + " bytes follow");
  bytes[11] = '\x7F';
  EXPECT_EQ(reject(bytes), "header too large (2131755008 bytes; at most 1048576 are accepted)");
  EXPECT_EQ(reject(bytes.substr(0, 11)), "truncated header: file is only 11 bytes long");
}

TEST_F(NpyRejectTest, MissingKeys) {
  EXPECT_EQ(reject(with_dict("{'fortran_order': False, 'shape': (2, 3), }")),
            "malformed header: missing key 'descr'");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'shape': (2, 3), }")),
            "malformed header: missing key 'fortran_order'");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False}")),
            "malformed header: missing key 'shape'");
  EXPECT_EQ(reject(with_dict("{}")), "malformed header: missing key 'descr'");
}

TEST_F(NpyRejectTest, UnknownAndDuplicateKeys) {
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}")),
            "malformed header: unknown key 'x'");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8', 'Shape': (2, 3), 'fortran_order': False}")),
            "malformed header: unknown key 'Shape'");
  EXPECT_EQ(reject(with_dict(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'descr': '<f8'}")),
            "malformed header: duplicate key 'descr'");
}

TEST_F(NpyRejectTest, MalformedDicts) {
  const auto reject_dict = [&](const std::string& dict) { return reject(with_dict(dict)); };
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3)}"),
            "malformed header: 'fortran_order' is not True or False");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': None, 'shape': (2, 3)}"),
            "malformed header: 'fortran_order' is not True or False");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': true, 'shape': (2, 3)}"),
            "malformed header: unexpected name 'true' at offset 34");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3),,}"),
            "malformed header: unexpected character ',' at offset 57");
  EXPECT_EQ(reject_dict("{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3)}"),
            "malformed header: unexpected character ''' at offset 16");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} x"),
            "malformed header: unexpected character 'x' at offset 58");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)"),
            "malformed header: unexpected end of header");
  EXPECT_EQ(reject_dict("{'descr': '<f8, 'fortran_order': False, 'shape': (2, 3)}"),
            "malformed header: unexpected character 'f' at offset 17");
  EXPECT_EQ(reject_dict("{'descr': '<f8\\x', 'fortran_order': False, 'shape': (2, 3)}"),
            "malformed header: escape sequences in strings are not supported (offset 14)");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (02, 3)}"),
            "malformed header: integer with leading zeros at offset 51");
  EXPECT_EQ(reject_dict("{'descr': b'<f8', 'fortran_order': False, 'shape': (2, 3)}"),
            "malformed header: unexpected name 'b' at offset 10");
  EXPECT_EQ(reject_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}\x01"),
            "malformed header: unexpected byte 0x01 at offset 57");
  // An unterminated string and a control character are shown escaped, on one line.
  EXPECT_EQ(reject_dict("{'descr': '<f8\x1b[2J', 'fortran_order': False, 'shape': (2, 3)}"),
            "unsupported dtype '<f8\\x1B[2J' (expected float64 '<f8' or float32 '<f4')");
  EXPECT_EQ(reject(with_dict("{'descr': '<f8\xC3\xA9', 'fortran_order': False, 'shape': (2, 3)}",
                             kData6, 3)),
            "unsupported dtype '<f8\\xC3\\xA9' (expected float64 '<f8' or float32 '<f4')");
  EXPECT_EQ(reject_dict("{'descr': '<f8"),
            "malformed header: unterminated string starting at "
            "offset 10");
  // Deep nesting is an error, not a stack overflow.
  EXPECT_EQ(reject_dict("{'descr': " + std::string(60000, '(')),
            "malformed header: nesting too deep at offset 42");
  EXPECT_EQ(reject(with_dict("{'descr': " + std::string(1000000, '['), kData6, 2)),
            "malformed header: nesting too deep at offset 42");
  // The header must end with a newline.
  std::string bytes = make_npy_bytes({1, 2}, 1, 2, false, false);
  bytes[9 + static_cast<unsigned char>(bytes[8])] = ' ';
  EXPECT_EQ(reject(bytes), "malformed header: not terminated by a newline");
}

TEST_F(NpyRejectTest, PythonTwoLongSuffixOnlyBeforeVersionThree) {
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }";
  EXPECT_NO_THROW((void)parse_npy_matrix(with_dict(dict, kData6, 2), "W.npy"));
  EXPECT_EQ(reject(with_dict(dict, kData6, 3)),
            "malformed header: unexpected character 'L' at offset 52");
}

TEST(NpyMessages, NameWithControlCharactersStaysOnOneLine) {
  try {
    (void)parse_npy_matrix("garbage", "bad\nname.npy");
    FAIL() << "no exception thrown";
  } catch (const InvalidInput& e) {
    EXPECT_EQ(std::string(e.what()), "bad\\x0Aname.npy: not an .npy file (bad magic)");
  }
}

// ------------------------------------------------------------------------------------------------
// Fuzzing: random mutations of valid files must parse to a consistent matrix or throw
// InvalidInput.

class Fuzzer {
 public:
  explicit Fuzzer(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  char byte() { return static_cast<char>(below(256)); }

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

  /// Offset of the data section, judged from the header length field of a valid-looking file.
  static std::size_t header_end(const std::string& b) {
    if (b.size() < 12) return b.size();
    const auto u = [&](std::size_t i) {
      return static_cast<std::size_t>(static_cast<unsigned char>(b[i]));
    };
    const std::size_t end =
        b[6] == 1 ? 10 + (u(8) | u(9) << 8) : 12 + (u(8) | u(9) << 8 | u(10) << 16 | u(11) << 24);
    return std::min(end, b.size());
  }

  /// Replaces the text after `key` up to the next `stop` character with `with`.
  static void replace_after(std::string& b, const std::string& key, char stop,
                            const std::string& with) {
    const std::size_t at = b.find(key);
    if (at == std::string::npos) return;
    const std::size_t from = at + key.size();
    const std::size_t to = b.find(stop, from);
    if (to == std::string::npos) return;
    b.replace(from, to - from, with);
  }

  /// Applies one random mutation. Edits inside the header mostly keep the header length field
  /// consistent, so that the parser gets past the framing checks to the dict itself.
  void mutate(std::string& b) {
    const std::size_t kind = below(10);
    const std::size_t old_size = b.size();
    const std::size_t old_end = header_end(b);
    const bool framed = b.size() >= 12 && (b[6] == 1 || b[6] == 2 || b[6] == 3) && old_end > 12;
    apply(kind, b);
    if (kind < 5 || kind > 8 || !framed || b.size() == old_size || below(4) == 0) return;
    const std::size_t prefix = b[6] == 1 ? 10 : 12;
    const std::size_t len = old_end - prefix + b.size() - old_size;  // wraps back when shrinking
    if (b[6] == 1 && len > 0xFFFF) return;
    for (std::size_t i = 0; i < prefix - 8; ++i)
      b[8 + i] = static_cast<char>((len >> (8 * i)) & 0xFF);
  }

  void apply(std::size_t kind, std::string& b) {
    switch (kind) {
      case 0:  // truncation
        b.resize(below(b.size() + 1));
        break;
      case 1: {  // bit flips in the preamble and header
        const std::size_t end = header_end(b);
        for (std::size_t i = 0, n = 1 + below(3); i < n && end > 0; ++i) {
          b[below(end)] ^= static_cast<char>(1 << below(8));
        }
        break;
      }
      case 2: {  // random bytes in the header
        const std::size_t end = header_end(b);
        for (std::size_t i = 0, n = 1 + below(4); i < n && end > 0; ++i) b[below(end)] = byte();
        break;
      }
      case 3: {  // random bytes in the data (NaN and inf patterns included)
        const std::size_t start = header_end(b);
        if (start >= b.size()) break;
        for (std::size_t i = 0, n = 1 + below(8); i < n; ++i) {
          b[start + below(b.size() - start)] = byte();
        }
        if (below(2) == 0) {  // an exponent of all ones in some float
          const std::size_t at = start + below(b.size() - start);
          b[at] = '\x7F';
          if (at + 1 < b.size()) b[at + 1] = '\xF0';
        }
        break;
      }
      case 4: {  // header length field
        if (b.size() < 12) break;
        const std::size_t field = b[6] == 1 ? 2 : 4;
        if (below(2) == 0) {
          b[8 + below(field)] = byte();
        } else {
          const int delta = static_cast<int>(below(17)) - 8;
          b[8] = static_cast<char>(static_cast<unsigned char>(b[8]) + delta);
        }
        break;
      }
      case 5:  // dtype
        replace_after(b, "'descr': '", '\'',
                      pick<std::string>({"<f8", "<f4", ">f8", ">f4", "<i8", "<f2", "|O", "<c16", "",
                                         "<f8<f8", "f8", "<u4", "<f8'"}));
        break;
      case 6:  // shape
        replace_after(b, "'shape': (", ')',
                      pick<std::string>({"", "1,", "0, 3", "3, 0", "-1, 2", "2, 3, 4", "1, 1",
                                         "2, 2", "4, 3", "3, 4", "12, 1", "1, 12", "6, 2",
                                         "99999999999999999999, 1", "4294967296, 4294967296",
                                         "2305843009213693952, 2", "2,3,", "2 3", "(2, 3)"}));
        break;
      case 7:  // fortran_order
        replace_after(b, "'fortran_order': ", ',',
                      pick<std::string>(
                          {"True", "False", "true", "1", "None", "", "(True)", "'False'", "Tru"}));
        break;
      case 8: {  // insertion or deletion in the header
        const std::size_t end = header_end(b);
        if (end == 0) break;
        const std::size_t at = below(end);
        if (below(2) == 0) {
          b.insert(at, 1,
                   pick<char>({'{', '}', '(', ')', '\'', '"', ',', ':', ' ', '\n', '\\', '\0', 'L',
                               '-', '9', '['}));
        } else {
          b.erase(at, 1 + below(3));
        }
        break;
      }
      default: {  // bytes appended or removed at the end
        if (below(2) == 0) {
          for (std::size_t i = 0, n = 1 + below(9); i < n; ++i) b += byte();
        } else if (!b.empty()) {
          b.resize(b.size() - std::min(b.size(), 1 + below(8)));
        }
        break;
      }
    }
  }

 private:
  std::mt19937_64 rng_;
};

TEST_F(NpyTest, FuzzedFilesParseConsistentlyOrThrowInvalidInput) {
  const std::vector<std::string> seeds = {
      make_npy_bytes(matrix_values(3, 4), 3, 4, false, false, 1),
      make_npy_bytes(matrix_values(4, 3), 4, 3, true, true, 1),
      make_npy_bytes(matrix_values(2, 6), 2, 6, true, false, 2),
      make_npy_bytes(matrix_values(1, 1), 1, 1, false, true, 3),
      make_npy_bytes(matrix_values(12, 1), 12, 1, false, false, 3),
      make_npy_raw("{'shape':(2,2),'fortran_order':True,'descr':'<f4'}",
                   npy_data_bytes({1, 2, 3, 4}, true), 1),
  };
  Fuzzer fuzz(0x5eed'2024'0ddb'a11ULL);
  constexpr int kIterations = 20000;
  constexpr int kFileEvery = 50;  // also run some through read_npy_matrix
  int accepted = 0;
  int rejected = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int it = 0; it < kIterations; ++it) {
    std::string bytes = fuzz.pick(seeds);
    for (std::size_t m = 0, n = 1 + fuzz.below(3); m < n; ++m) fuzz.mutate(bytes);
    const bool via_file = it % kFileEvery == 0;
    const std::string name = via_file ? path("fuzz.npy") : "fuzz.npy";
    if (via_file) write_file(name, bytes);
    try {
      const NpyMatrix mat = via_file ? read_npy_matrix(name) : parse_npy_matrix(bytes, name);
      ++accepted;
      ASSERT_GT(mat.rows, 0u);
      ASSERT_GT(mat.cols, 0u);
      ASSERT_EQ(mat.rows * mat.cols, mat.data.size()) << "iteration " << it;
      ASSERT_TRUE(
          std::all_of(mat.data.begin(), mat.data.end(), [](double x) { return std::isfinite(x); }))
          << "iteration " << it;
    } catch (const InvalidInput& e) {
      ++rejected;
      const std::string what = e.what();
      ASSERT_TRUE(
          std::all_of(what.begin(), what.end(), [](char ch) { return ch >= 0x20 && ch < 0x7F; }))
          << "iteration " << it << ": " << what;
      ASSERT_EQ(what.rfind(name + ": ", 0), 0u) << "iteration " << it << ": " << what;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << it << ": unexpected exception: " << e.what();
    } catch (...) {
      FAIL() << "iteration " << it << ": unexpected non-standard exception";
    }
  }
  // Both outcomes must actually occur for the test to mean anything.
  EXPECT_GT(accepted, kIterations / 20);
  EXPECT_GT(rejected, kIterations / 2);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  RecordProperty("accepted", accepted);
  RecordProperty("rejected", rejected);
  EXPECT_LT(seconds, 10.0);  // far from the ~2 s budget even under sanitizers
}

}  // namespace
}  // namespace rnnlyap

// ------------------------------------------------------------------------------------------------
// Read a few columns at a time (io/npy_columns.hpp: one network over many ranks).

namespace rnnlyap {
namespace {

// Every column range of every dtype, order and version equals read_npy_matrix's columns; a NaN is
// named as read_npy_matrix names it, found only when its column is read.
TEST_F(NpyTest, ColumnsReadInPiecesEqualTheWholeMatrix) {
  for (const bool float32 : {false, true})
    for (const bool fortran : {false, true})
      for (const int version : {1, 3}) {
        SCOPED_TRACE(::testing::Message()
                     << (float32 ? "<f4" : "<f8") << " fortran=" << fortran << " v" << version);
        const std::size_t rows = 7, cols = 9;
        const auto values = matrix_values(rows, cols);
        const std::string file = path("c.npy");
        write_file(file, make_npy_bytes(values, rows, cols, fortran, float32, version));
        const NpyMatrix whole = read_npy_matrix(file);
        const io::NpyColumns pieces(file);
        ASSERT_EQ(pieces.rows(), rows);
        ASSERT_EQ(pieces.cols(), cols);
        for (std::size_t c0 = 0; c0 < cols; ++c0)
          for (std::size_t c1 = c0 + 1; c1 <= cols; c1 += 3) {
            std::vector<double> out(rows * (c1 - c0), -1.0);
            pieces.columns(c0, c1, out.data());
            for (std::size_t i = 0; i < out.size(); ++i)
              ASSERT_EQ(out[i], whole.data[c0 * rows + i]) << "columns " << c0 << ".." << c1;
          }
      }
  auto values = matrix_values(4, 5);
  values[2 * 5 + 3] = std::numeric_limits<double>::quiet_NaN();  // row 2, column 3
  const std::string file = path("nan.npy");
  write_file(file, make_npy_bytes(values, 4, 5, false, false));
  const io::NpyColumns pieces(file);  // the header alone is read here
  std::vector<double> out(4 * 5);
  EXPECT_NO_THROW(pieces.columns(0, 3, out.data()));
  try {
    pieces.columns(2, 5, out.data());
    ADD_FAILURE() << "the NaN was not found";
  } catch (const InvalidInput& e) {
    EXPECT_EQ(std::string(e.what()), file + ": non-finite value NaN at row 2, column 3 (0-based)");
  }
  EXPECT_EQ(read_error(file), file + ": non-finite value NaN at row 2, column 3 (0-based)");
}

}  // namespace
}  // namespace rnnlyap
