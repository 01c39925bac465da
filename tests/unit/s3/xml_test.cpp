// S3's XML answers as AWS and MinIO send them, and the CompleteMultipartUpload body.
#include <gtest/gtest.h>

#include "metagate/s3/xml.hpp"

using namespace metagate::s3;
using namespace std::chrono;

TEST(S3Xml, ErrorDocument) {
  auto e = parse_error_xml(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
<Key>backups/x.db</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>)");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "NoSuchKey");
  EXPECT_EQ(e->message, "The specified key does not exist.");
  EXPECT_EQ(e->request_id, "4442587FB7D0A2F9");
  // Entities are the parser's business.
  auto amp = parse_error_xml("<Error><Code>SignatureDoesNotMatch</Code><Message>a &amp; b &lt;c&gt;</Message></Error>");
  ASSERT_TRUE(amp.has_value());
  EXPECT_EQ(amp->message, "a & b <c>");
  EXPECT_FALSE(parse_error_xml("<ListBucketResult/>").has_value());
  EXPECT_FALSE(parse_error_xml("<html><body>502 Bad Gateway</body></html>").has_value());
  EXPECT_FALSE(parse_error_xml("").has_value());
  EXPECT_FALSE(parse_error_xml("<Error><Code>x</Code>").has_value());  // not well-formed
}

TEST(S3Xml, TruncatedListingWithContinuationToken) {
  auto page = parse_list_objects_v2(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>backups/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>backups/a.db</Key><LastModified>2026-12-06T11:35:00.000Z</LastModified>
    <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>backups/b.db</Key><LastModified>2026-12-06T11:36:01Z</LastModified>
    <ETag>"d41d8cd98f00b204e9800998ecf8427e-2"</ETag><Size>10485760</Size></Contents>
</ListBucketResult>)");
  ASSERT_TRUE(page.has_value()) << page.error().to_string();
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "backups/a.db");
  EXPECT_EQ(page->objects[0].size, 434234u);
  EXPECT_EQ(page->objects[0].etag, "\"9b2cf535f27731c974343645a3985328\"");
  EXPECT_EQ(page->objects[0].last_modified, sys_days{2026y / December / 6} + 11h + 35min);
  EXPECT_EQ(page->objects[1].size, 10485760u);
  EXPECT_EQ(page->objects[1].last_modified, sys_days{2026y / December / 6} + 11h + 36min + 1s);
}

TEST(S3Xml, LastPageAndEmptyListing) {
  auto last = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>0</Size></Contents>"
      "</ListBucketResult>");
  ASSERT_TRUE(last.has_value());
  EXPECT_FALSE(last->truncated);
  ASSERT_EQ(last->objects.size(), 1u);
  EXPECT_EQ(last->objects[0].size, 0u);
  EXPECT_EQ(last->objects[0].last_modified, sys_seconds{});
  auto empty = parse_list_objects_v2("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->objects.empty());
}

TEST(S3Xml, UrlEncodedKeysAreDecodedOnlyWhenTheAnswerSaysSo) {
  auto enc = parse_list_objects_v2(
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>dir%2Fodd+key%2Bplus+%E2%82%AC.txt</Key><Size>3</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(enc.has_value());
  EXPECT_EQ(enc->objects.at(0).key, "dir/odd key+plus \xE2\x82\xAC.txt");
  auto plain = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a+b%20c</Key><Size>3</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->objects.at(0).key, "a+b%20c");
}

TEST(S3Xml, ListingErrors) {
  EXPECT_EQ(parse_list_objects_v2("not xml").error().kind, Error::Kind::kBadResponse);
  EXPECT_EQ(parse_list_objects_v2("<Error><Code>x</Code></Error>").error().kind, Error::Kind::kBadResponse);
  // A truncated page must say where to go on, or the listing would loop or stop early.
  EXPECT_FALSE(parse_list_objects_v2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"));
  EXPECT_FALSE(parse_list_objects_v2(
      "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>"));
}

TEST(S3Xml, InitiateMultipartUpload) {
  auto id = parse_initiate_multipart(R"(<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket><Key>big.db</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>)");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  EXPECT_EQ(parse_initiate_multipart("<InitiateMultipartUploadResult/>").error().kind, Error::Kind::kBadResponse);
}

TEST(S3Xml, CompleteMultipartUploadSuccessAndErrorInA200) {
  // S3 may send whitespace to keep the connection alive before the document.
  auto ok = parse_complete_multipart(R"(

<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://bucket.s3.amazonaws.com/big.db</Location><Bucket>bucket</Bucket><Key>big.db</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>)");
  ASSERT_TRUE(ok.has_value()) << ok.error().to_string();
  EXPECT_EQ(*ok, "\"3858f62230ac3c915f300c664312c11f-9\"");

  auto failed = parse_complete_multipart(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>
<RequestId>656c76696e6727732072657175657374</RequestId></Error>)");
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().kind, Error::Kind::kServer);
  EXPECT_EQ(failed.error().code, "InternalError");
  EXPECT_EQ(failed.error().request_id, "656c76696e6727732072657175657374");
  EXPECT_TRUE(failed.error().retryable());

  auto invalid_part = parse_complete_multipart("<Error><Code>InvalidPart</Code><Message>m</Message></Error>");
  EXPECT_EQ(invalid_part.error().kind, Error::Kind::kClient);
  EXPECT_FALSE(invalid_part.error().retryable());
  EXPECT_EQ(parse_complete_multipart("garbage").error().kind, Error::Kind::kBadResponse);
}

TEST(S3Xml, CompleteMultipartBody) {
  std::string xml = complete_multipart_xml({{1, "\"a1\""}, {2, "\"b<2>\""}});
  EXPECT_EQ(xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>\"a1\"</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>\"b&lt;2&gt;\"</ETag></Part>"
            "</CompleteMultipartUpload>");
}

TEST(S3Xml, Dates) {
  EXPECT_EQ(parse_iso8601("2009-10-12T17:50:30.000Z"), sys_days{2009y / October / 12} + 17h + 50min + 30s);
  EXPECT_EQ(parse_iso8601("2009-10-12T17:50:30Z"), sys_days{2009y / October / 12} + 17h + 50min + 30s);
  EXPECT_FALSE(parse_iso8601("2009-10-12 17:50:30Z"));
  EXPECT_FALSE(parse_iso8601("2009-13-12T17:50:30Z"));
  EXPECT_FALSE(parse_iso8601("2009-10-12T17:50:30+02:00"));
  EXPECT_EQ(parse_http_date("Mon, 12 Oct 2009 17:50:30 GMT"), sys_days{2009y / October / 12} + 17h + 50min + 30s);
  EXPECT_FALSE(parse_http_date("Mon, 12 Foo 2009 17:50:30 GMT"));
  EXPECT_FALSE(parse_http_date("Monday, 12-Oct-09 17:50:30 GMT"));
  EXPECT_FALSE(parse_http_date(""));
}
