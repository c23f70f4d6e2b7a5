"""Templates render in Thai and English, fall back to Thai, and refuse unknown names."""

from __future__ import annotations

import pytest

from govhub.notify.rendering import render_email, render_sms

CONTEXT = {
    "tracking_number": "OSS-6901-000042-7",
    "service_title": "ใบอนุญาตประกอบกิจการโรงแรม",
    "applicant_name": "สมหญิง ทดสอบ",
    "due_date": "23 ธ.ค. 2569",
    "tracking_url": "https://govhub.example/track/OSS-6901-000042-7",
    "message": "1. สำเนาทะเบียนบ้าน\n2. แผนที่ตั้งสถานประกอบการ",
    "state_label": "อนุมัติ",
    "days_late": "3",
    "reason": "รอความเห็นจากสำนักงานโยธาธิการจังหวัด",
}
EMAILS = [
    "application_received", "application_returned", "application_state_changed",
    "application_decided", "late_decision_notice",
]
# Words that only the Thai or only the English version of every email carries.
THAI_MARK, ENGLISH_MARK = "เลขที่คำขอ", "Tracking number"


@pytest.mark.parametrize("template", EMAILS)
def test_every_application_email_renders_in_thai_and_english(template):
    thai, english = render_email(template, CONTEXT, "th"), render_email(template, CONTEXT, "en")
    assert (thai.locale, english.locale) == ("th", "en")
    for rendered in (thai, english):
        assert CONTEXT["tracking_number"] in rendered.subject and "\n" not in rendered.subject
        assert CONTEXT["tracking_number"] in rendered.body and CONTEXT["tracking_url"] in rendered.body
        assert CONTEXT["applicant_name"] in rendered.body and CONTEXT["service_title"] in rendered.body
        assert "{{" not in rendered.body and "None" not in rendered.body
    assert THAI_MARK in thai.body and ENGLISH_MARK not in thai.body
    assert ENGLISH_MARK in english.body and THAI_MARK not in english.body


def test_each_email_carries_its_own_details():
    returned = render_email("application_returned", CONTEXT, "th")
    assert "2. แผนที่ตั้งสถานประกอบการ" in returned.body and CONTEXT["due_date"] in returned.body
    decided = render_email("application_decided", CONTEXT, "en")
    assert "Decision: อนุมัติ" in decided.body and "Reasons" in decided.body
    late = render_email("late_decision_notice", CONTEXT, "th")
    assert "3 วัน" in late.body and CONTEXT["reason"] in late.body and "ทุก 7 วัน" in late.body
    late_en = render_email("late_decision_notice", CONTEXT, "en")
    assert "every 7 days" in late_en.body and "Licensing Facilitation Act B.E. 2558" in late_en.body


def test_empty_optional_values_leave_no_stray_lines():
    empty = {key: "" for key in CONTEXT}
    rendered = render_email("application_state_changed", {**empty, "tracking_number": "X-1"}, "en")
    assert "Dear applicant," in rendered.body
    assert "Message from the officer" not in rendered.body and "\n\n\n" not in rendered.body
    thai = render_email("application_received", empty, "th")
    assert "เรียน ผู้ยื่นคำขอ" in thai.body and "กำหนดพิจารณา" not in thai.body


def test_unknown_locale_falls_back_to_thai():
    rendered = render_email("application_received", CONTEXT, "fr")
    assert rendered.locale == "th" and THAI_MARK in rendered.body


def test_sms_is_one_short_line_in_each_language():
    for template in ("application_received", "application_state_changed"):
        for locale in ("th", "en"):
            rendered = render_sms(template, CONTEXT, locale)
            assert rendered.subject == "" and "\n" not in rendered.body
            assert CONTEXT["tracking_number"] in rendered.body and len(rendered.body) <= 160
            assert CONTEXT["applicant_name"] not in rendered.body  # SMS is not private: no names
    assert "สถานะ" in render_sms("application_state_changed", CONTEXT, "th").body


def test_security_notice_keeps_its_advice():
    rendered = render_email("security_notice", {"message": "Your password was changed."}, "en")
    assert rendered.subject == "govhub security notice"
    assert "Your password was changed." in rendered.body and "Sign out everywhere" in rendered.body


@pytest.mark.parametrize("name", ["no_such_template", "../../etc/passwd", "Application_Received", ""])
def test_unknown_or_malformed_template_is_a_programming_error(name):
    with pytest.raises(ValueError):
        render_email(name, CONTEXT, "th")
    with pytest.raises(ValueError):
        render_sms("application_decided", CONTEXT, "th")  # no SMS variant of this one


def test_a_newline_in_a_value_cannot_add_a_header():
    rendered = render_email("application_decided", {**CONTEXT, "tracking_number": "X\nBcc: evil@example.com"}, "en")
    assert "\n" not in rendered.subject
