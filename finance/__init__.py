"""The finance desk (issue 23): valuations (income method), pledge financing with banks (质押融资) and
innovation vouchers (创新券). See docs/finance.md."""
