"""Error message catalog: Indonesian by default, English on request.

Error codes are the stable contract for clients; the text here is for people and may be reworded.
Indonesian is the default because most registrants read it first and many use shared or borrowed
phones whose browser language says nothing about the reader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

Lang = Literal["id", "en"]

_NIK_CHECK_ID = "Periksa kembali NIK sesuai KTP Anda."
_NIK_CHECK_EN = "Please check the NIK on your ID card (KTP)."

MESSAGES: dict[str, dict[Lang, str]] = {
    # Rejection reasons shown on the status page (verification service)
    "nik_not_found": {
        "id": "NIK Anda tidak ditemukan di data kependudukan (Dukcapil). Periksa kembali NIK "
        "sesuai KTP, lalu daftar ulang dengan NIK yang benar.",
        "en": "Your NIK was not found in the civil registry (Dukcapil). Check the NIK on your "
        "ID card and register again with the correct NIK.",
    },
    "nik_data_mismatch": {
        "id": "Nama atau tanggal lahir tidak sesuai dengan data kependudukan untuk NIK ini. "
        "Isi persis seperti tertulis di KTP, lalu daftar ulang.",
        "en": "The name or birth date does not match the civil registry for this NIK. Enter "
        "them exactly as on your ID card and register again.",
    },
    # Not "within 48 hours": a change of contact moves the deadline (issue 20).
    "contact_expired": {
        "id": "Waktu untuk mengonfirmasi email atau nomor HP Anda sudah habis. Silakan daftar "
        "ulang.",
        "en": "The time to confirm your email address or phone number ran out. Please register "
        "again.",
    },
    "duplicate": {
        "id": "NIK ini sudah terdaftar melalui pendaftaran lain, jadi pendaftaran ini tidak "
        "dipakai dan tidak akan diproses. Pendaftaran pertama tetap berlaku: buka tautan status "
        "yang Anda terima saat pertama mendaftar. Jika tautan itu hilang, minta dikirim ulang di "
        "halaman /tautan dengan NIK dan email atau nomor HP yang Anda isi saat itu. Jika Anda "
        "merasa belum pernah mendaftar, hubungi layanan pengaduan atau posko terdekat dengan "
        "membawa KTP.",
        "en": "This NIK was already registered by another sign-up, so this one is not used and "
        "will not be processed. The first registration still counts: open the status link you "
        "received when you first signed up. If you lost it, have it sent again at /tautan with "
        "your NIK and the email or phone number you gave then. If you never registered before, "
        "contact the help desk or the nearest assisted-registration post (posko) with your ID "
        "card.",
    },
    "contact_undeliverable": {
        "id": "Pesan konfirmasi tidak dapat dikirim ke email atau nomor HP Anda. Silakan daftar "
        "ulang dengan email atau nomor HP lain.",
        "en": "The confirmation message could not be delivered to your email or phone. Please "
        "register again with another email address or phone number.",
    },
    # Contact confirmation (email link, SMS code)
    "link_invalid": {
        "id": "Tautan konfirmasi tidak valid. Pastikan Anda membuka tautan lengkap dari email.",
        "en": "This confirmation link is not valid. Make sure you opened the full link from "
        "the email.",
    },
    "link_expired": {
        "id": "Tautan konfirmasi sudah kedaluwarsa: waktu untuk mengonfirmasi sudah habis.",
        "en": "This confirmation link has expired: the time to confirm ran out.",
    },
    "link_replaced": {
        "id": "Tautan ini untuk alamat email yang sudah diganti, jadi tidak berlaku lagi. Buka "
        "tautan di email konfirmasi terbaru, yang dikirim ke alamat yang baru.",
        "en": "This link is for an email address that was since replaced, so it no longer "
        "works. Open the link in the latest confirmation email, sent to the new address.",
    },
    "contact_confirmed": {
        "id": "Terima kasih, kontak Anda sudah dikonfirmasi. Kami sedang memeriksa NIK Anda.",
        "en": "Thank you, your contact is confirmed. We are now checking your NIK.",
    },
    "contact_already_confirmed": {
        "id": "Kontak Anda sudah dikonfirmasi sebelumnya. Tidak perlu melakukan apa pun lagi.",
        "en": "Your contact was already confirmed. There is nothing more to do.",
    },
    "otp_format": {
        "id": "Kode verifikasi terdiri dari 6 angka.",
        "en": "The verification code is 6 digits.",
    },
    "otp_wrong": {
        "id": "Kode verifikasi salah. Periksa SMS terakhir yang Anda terima.",
        "en": "The verification code is wrong. Check the latest SMS you received.",
    },
    "otp_locked": {
        "id": "Terlalu banyak percobaan kode yang salah. Minta kode baru.",
        "en": "Too many wrong codes. Please request a new code.",
    },
    "otp_expired": {
        "id": "Kode verifikasi sudah kedaluwarsa atau belum dikirim. Minta kode baru.",
        "en": "The verification code has expired or was not sent yet. Please request a new code.",
    },
    "otp_resend_too_soon": {
        "id": "Tunggu sebentar sebelum meminta kode baru.",
        "en": "Please wait a moment before requesting a new code.",
    },
    "otp_resend_queued": {
        "id": "Kode baru sedang dikirim ke nomor HP Anda.",
        "en": "A new code is on its way to your phone.",
    },
    "otp_resend_limit": {
        "id": "Anda sudah meminta pesan konfirmasi dikirim ulang {times} kali, batas untuk satu "
        "pendaftaran, jadi tidak ada lagi yang dikirim. Jika pesannya tidak pernah sampai, "
        "mungkin email atau nomor HP-nya salah ketik: ubah di halaman status. Jika sudah benar, "
        "periksa folder spam atau sinyal HP Anda, atau hubungi layanan pengaduan.",
        "en": "You have asked for the confirmation message {times} times, the limit for one "
        "registration, so nothing more will be sent. If it never arrived, the email address or "
        "phone number may be mistyped: change it on the status page. If it is right, check the "
        "spam folder or your phone's signal, or contact the help desk.",
    },
    # Change of contact before it is confirmed (issue 20)
    "contact_change_queued": {
        "id": "Kontak Anda sedang diubah. Pesan konfirmasi baru dikirim ke kontak yang baru; "
        "kode atau tautan yang lama tidak berlaku lagi.",
        "en": "Your contact is being changed. A new confirmation message is on its way to the "
        "new contact; the old code or link no longer works.",
    },
    "contact_change_closed": {
        "id": "Email atau nomor HP tidak dapat diubah lagi: kontaknya sudah dikonfirmasi atau "
        "pendaftaran ini sudah selesai diproses.",
        "en": "The email address or phone number can no longer be changed: it is already "
        "confirmed, or this registration has been decided.",
    },
    "contact_change_too_soon": {
        "id": "Kontak baru saja diubah. Tunggu sebentar sebelum mengubahnya lagi.",
        "en": "The contact was changed only just now. Please wait a moment before changing it "
        "again.",
    },
    "contact_change_limit": {
        "id": "Email atau nomor HP sudah diubah {times} kali, batas untuk satu pendaftaran. "
        "Jika masih salah, hubungi layanan pengaduan atau posko terdekat dengan membawa KTP.",
        "en": "The email address or phone number has been changed {times} times, the limit for "
        "one registration. If it is still wrong, contact the help desk or the nearest "
        "assisted-registration post (posko) with your ID card.",
    },
    # Lost status link (issue 20). The answer is the same whether or not the NIK is registered
    # and whether or not the contact is the one it was registered with: it must say nothing
    # about a NIK to whoever types one in.
    "status_link_requested": {
        "id": "Jika NIK ini terdaftar dengan kontak tersebut, kami telah mengirim tautan status "
        "ke kontak itu. Periksa email atau SMS Anda.",
        "en": "If this NIK was registered with this contact, we have sent the status link to "
        "it. Check your email or SMS.",
    },
    "status_link_too_many": {
        "id": "Terlalu banyak permintaan tautan status. Silakan coba lagi nanti.",
        "en": "Too many requests for the status link. Please try again later.",
    },
    # The message that carries it (email and SMS, services.verification).
    "status_link_resent": {
        "id": "Anda (atau seseorang yang mengetahui NIK dan kontak Anda) meminta tautan status "
        "pendaftaran Anda dikirim ulang. Simpan tautan ini dan jangan bagikan kepada siapa pun:",
        "en": "You (or someone who knows your NIK and contact) asked for the link to your "
        "registration status again. Keep this link and do not share it with anyone:",
    },
    # NIK structure (gelombang.nik)
    "nik_format": {
        "id": "NIK harus terdiri dari 16 angka.",
        "en": "The NIK must be exactly 16 digits.",
    },
    "nik_province_unknown": {
        "id": f"Kode provinsi pada NIK tidak dikenal. {_NIK_CHECK_ID}",
        "en": f"The province code in the NIK is not recognised. {_NIK_CHECK_EN}",
    },
    "nik_regency_unknown": {
        "id": f"Kode kabupaten/kota pada NIK tidak dikenal. {_NIK_CHECK_ID}",
        "en": f"The regency/city code in the NIK is not recognised. {_NIK_CHECK_EN}",
    },
    "nik_date_invalid": {
        "id": f"Tanggal lahir yang tercantum dalam NIK tidak valid. {_NIK_CHECK_ID}",
        "en": f"The birth date contained in the NIK is not a valid date. {_NIK_CHECK_EN}",
    },
    "nik_serial_zero": {
        "id": f"Empat angka terakhir NIK tidak boleh 0000. {_NIK_CHECK_ID}",
        "en": f"The last four digits of the NIK cannot be 0000. {_NIK_CHECK_EN}",
    },
    # Registration rules (services.registration.schemas)
    "nik_birth_date_mismatch": {
        "id": "Tanggal lahir tidak sesuai dengan NIK. "
        "Periksa kembali tanggal lahir dan NIK sesuai KTP Anda.",
        "en": "The birth date does not match the NIK. "
        "Please check both the birth date and the NIK on your ID card (KTP).",
    },
    "nik_gender_mismatch": {
        "id": "Jenis kelamin tidak sesuai dengan NIK. Periksa kembali data sesuai KTP Anda.",
        "en": "The gender does not match the NIK. Please check your details against your KTP.",
    },
    "age_under_18": {
        "id": "Pendaftar harus sudah berusia 18 tahun.",
        "en": "You must be at least 18 years old to register.",
    },
    "birth_date_in_future": {
        "id": "Tanggal lahir tidak boleh melewati tanggal hari ini.",
        "en": "The birth date cannot be in the future.",
    },
    "birth_date_implausible": {
        "id": "Tanggal lahir tidak valid. Periksa kembali tahun lahir Anda.",
        "en": "The birth date is not plausible. Please check the year of birth.",
    },
    "date_invalid": {
        "id": "Tanggal tidak valid. Gunakan format TTTT-BB-HH, misalnya 1990-08-17.",
        "en": "Invalid date. Use the format YYYY-MM-DD, for example 1990-08-17.",
    },
    "full_name_invalid": {
        "id": "Nama lengkap hanya boleh berisi huruf, spasi, titik, koma, "
        "tanda petik (') dan tanda hubung (-).",
        "en": "The full name may only contain letters, spaces, full stops, commas, "
        "apostrophes (') and hyphens (-).",
    },
    "in_formal_education": {
        "id": "Mohon maaf, program ini tidak terbuka bagi peserta yang sedang menempuh "
        "pendidikan formal (sekolah atau kuliah).",
        "en": "Sorry, this programme is not open to people who are currently in formal "
        "education (school or university).",
    },
    "consent_required": {
        "id": "Anda perlu menyetujui syarat dan ketentuan untuk melanjutkan pendaftaran.",
        "en": "You need to accept the terms and conditions to continue.",
    },
    "contact_required": {
        "id": "Isi alamat email atau nomor HP (minimal salah satu) agar kami dapat "
        "menghubungi Anda.",
        "en": "Enter an email address or a mobile number (at least one) so that we can "
        "contact you.",
    },
    "email_invalid": {
        "id": "Alamat email tidak valid. Contoh yang benar: nama@contoh.com.",
        "en": "The email address is not valid. Example: name@example.com.",
    },
    "phone_invalid": {
        "id": "Nomor HP tidak valid. Gunakan format 08xxxxxxxxxx atau +628xxxxxxxxxx.",
        "en": "The mobile number is not valid. Use 08xxxxxxxxxx or +628xxxxxxxxxx.",
    },
    "phone_not_mobile": {
        "id": "Gunakan nomor HP (seluler), bukan nomor telepon rumah atau kantor.",
        "en": "Please use a mobile number, not a landline.",
    },
    "phone_not_indonesian": {
        "id": "Nomor HP harus nomor Indonesia (+62). Jika tidak ada, cukup isi alamat email.",
        "en": "The mobile number must be Indonesian (+62). If you have none, "
        "enter an email address instead.",
    },
    "province_unknown": {
        "id": "Provinsi domisili tidak valid. Pilih provinsi dari daftar.",
        "en": "The province of residence is not valid. Please choose one from the list.",
    },
    "regency_unknown": {
        "id": "Kabupaten/kota domisili tidak valid. Pilih kabupaten/kota dari daftar.",
        "en": "The regency/city of residence is not valid. Please choose one from the list.",
    },
    "regency_not_in_province": {
        "id": "Kabupaten/kota yang dipilih tidak berada di provinsi yang dipilih.",
        "en": "The chosen regency/city is not in the chosen province.",
    },
    # Generic request errors (mapped from pydantic's error types)
    "missing": {
        "id": "Wajib diisi.",
        "en": "This field is required.",
    },
    "string_type": {
        "id": "Harus berupa teks.",
        "en": "Must be text.",
    },
    "bool_type": {
        "id": "Harus bernilai true atau false.",
        "en": "Must be true or false.",
    },
    "choice_invalid": {
        "id": "Pilihan tidak valid. Pilih salah satu dari: {expected}.",
        "en": "Invalid choice. Choose one of: {expected}.",
    },
    "string_too_long": {
        "id": "Maksimal {max_length} karakter.",
        "en": "At most {max_length} characters.",
    },
    "string_too_short": {
        "id": "Minimal {min_length} karakter.",
        "en": "At least {min_length} characters.",
    },
    "extra_forbidden": {
        "id": "Kolom ini tidak dikenal.",
        "en": "Unknown field.",
    },
    "json_invalid": {
        "id": "Data yang dikirim bukan JSON yang valid.",
        "en": "The request body is not valid JSON.",
    },
    "body_not_object": {
        "id": "Data yang dikirim harus berupa objek JSON.",
        "en": "The request body must be a JSON object.",
    },
    "invalid": {
        "id": "Isian tidak valid.",
        "en": "Invalid value.",
    },
    # API-level errors (used by the registration service, not by validation)
    "validation_failed": {
        "id": "Data pendaftaran belum lengkap atau belum sesuai. Periksa kembali isian yang "
        "ditandai.",
        "en": "Some details are missing or incorrect. Please check the highlighted fields.",
    },
    "nik_already_registered": {
        "id": "NIK ini sudah terdaftar. Anda tidak perlu mendaftar lagi: pendaftar yang belum "
        "terpilih otomatis diikutkan pada gelombang berikutnya. Jika Anda merasa belum pernah "
        "mendaftar, silakan hubungi layanan pengaduan.",
        "en": "This NIK is already registered. You do not need to register again: registrants "
        "who are not selected are automatically included in later waves. If you never "
        "registered, please contact the help desk.",
    },
    "idempotency_key_conflict": {
        "id": "Permintaan ini pernah dikirim dengan data yang berbeda. "
        "Muat ulang halaman lalu kirim kembali.",
        "en": "This request was already sent with different data. "
        "Reload the page and submit again.",
    },
    "idempotency_key_invalid": {
        "id": "Header Idempotency-Key tidak valid.",
        "en": "The Idempotency-Key header is not valid.",
    },
    "nik_check_pending": {
        "id": "Pendaftaran lain dengan NIK ini masih sedang diproses. Coba lagi sebentar lagi; "
        "Anda akan mendapat jawaban pasti.",
        "en": "Another registration with this NIK is still being processed. Please try again "
        "in a moment; you will then get a definite answer.",
    },
    "service_unavailable": {
        "id": "Layanan sedang sibuk. Silakan coba lagi dalam beberapa saat.",
        "en": "The service is busy. Please try again in a few moments.",
    },
    "not_found": {
        "id": "Data pendaftaran tidak ditemukan. Periksa kembali tautan status Anda.",
        "en": "Registration not found. Please check your status link.",
    },
    "rate_limited": {
        "id": "Terlalu banyak permintaan. Silakan tunggu sebentar lalu coba lagi.",
        "en": "Too many requests. Please wait a moment and try again.",
    },
    "challenge_required": {
        "id": "Halaman pendaftaran perlu melakukan pemeriksaan otomatis terlebih dahulu. "
        "Muat ulang halaman lalu kirim lagi.",
        "en": "The sign-up page needs to run an automatic check first. Reload the page and "
        "submit again.",
    },
    "too_many_from_network": {
        "id": "Terlalu banyak pendaftaran dari jaringan Anda dalam waktu singkat. "
        "Silakan tunggu sebentar lalu coba lagi.",
        "en": "Too many sign-ups from your network in a short time. Please wait a moment and "
        "try again.",
    },
    "too_many_for_nik": {
        "id": "Terlalu banyak percobaan pendaftaran untuk NIK ini. Silakan tunggu lalu coba lagi.",
        "en": "Too many sign-up attempts for this NIK. Please wait and try again.",
    },
    # Admission control (gelombang.admission): not the person's fault, so the text says so.
    "server_busy": {
        "id": "Saat ini banyak sekali orang mendaftar. Data Anda belum dikirim dan tidak hilang: "
        "coba lagi dalam sekitar {seconds} detik.",
        "en": "A great many people are signing up right now. Your details were not sent yet and "
        "are not lost: try again in about {seconds} seconds.",
    },
    # Wave decisions (selection.decided): shown on the status page and sent by email or SMS.
    "decision_selected": {
        "id": "Selamat! Anda terpilih sebagai peserta gelombang {wave}. Mulailah pelatihan "
        "pertama dalam 30 hari agar kursi Anda tidak dialihkan.",
        "en": "Congratulations! You were selected in wave {wave}. Start your first training "
        "within 30 days or your seat goes to someone else.",
    },
    "decision_waitlisted": {
        "id": "Anda belum terpilih di gelombang {wave}. Pendaftaran Anda tetap berlaku dan "
        "otomatis diikutkan di gelombang berikutnya; tidak perlu mendaftar ulang.",
        "en": "You were not selected in wave {wave}. Your registration stays valid and is "
        "automatically in the next wave's draw; there is no need to register again.",
    },
    "decision_revoked": {
        "id": "Kursi Anda di gelombang {wave} dialihkan karena pelatihan tidak dimulai dalam "
        "30 hari.",
        "en": "Your seat in wave {wave} was given to someone else because no training was "
        "started within 30 days.",
    },
    # Assisted registration (services.assisted): read by posko officers
    "attestation_required": {
        "id": "Petugas wajib menyatakan telah melihat KTP asli pendaftar.",
        "en": "The officer must confirm having seen the registrant's ID card (KTP).",
    },
    "officer_unauthorized": {
        "id": "Kunci API petugas tidak ada, tidak dikenal, atau sudah dicabut.",
        "en": "The officer API key is missing, unknown or revoked.",
    },
    "admin_unauthorized": {
        "id": "Token admin tidak ada atau salah.",
        "en": "The admin token is missing or wrong.",
    },
    "assisted_not_found": {
        "id": "Data tidak ditemukan untuk posko ini.",
        "en": "Not found for this posko.",
    },
    "nik_duplicate_in_file": {
        "id": "NIK ini sudah ada di baris sebelumnya dalam berkas yang sama.",
        "en": "This NIK already appears in an earlier row of the same file.",
    },
    "csv_row_width": {
        "id": "Jumlah kolom pada baris ini tidak sama dengan judul kolom.",
        "en": "This row does not have the same number of columns as the header.",
    },
    "csv_encoding": {
        "id": "Berkas harus CSV dengan encoding UTF-8 (di Excel: Simpan sebagai CSV UTF-8).",
        "en": "The file must be CSV encoded as UTF-8 (in Excel: Save as CSV UTF-8).",
    },
    "csv_empty": {
        "id": "Berkas CSV kosong: tidak ada baris data di bawah judul kolom.",
        "en": "The CSV file is empty: no data rows below the header.",
    },
    "csv_unreadable": {
        "id": "Berkas CSV tidak dapat dibaca.",
        "en": "The CSV file cannot be read.",
    },
    "csv_unknown_column": {
        "id": "Judul kolom tidak dikenal: {detail}.",
        "en": "Unknown column header: {detail}.",
    },
    "csv_missing_column": {
        "id": "Kolom wajib tidak ada: {detail}.",
        "en": "Required column missing: {detail}.",
    },
    "csv_duplicate_column": {
        "id": "Ada judul kolom yang muncul dua kali.",
        "en": "A column header appears twice.",
    },
    "csv_content_type": {
        "id": "Kirim berkas sebagai text/csv atau multipart/form-data.",
        "en": "Send the file as text/csv or multipart/form-data.",
    },
    "batch_too_large": {
        "id": "Berkas terlalu besar: maksimal 10.000 baris per unggahan. "
        "Bagi menjadi beberapa berkas.",
        "en": "The file is too large: at most 10,000 rows per upload. Split it into several files.",
    },
}

# Used when a template's placeholder has no value in ctx, so a message never shows "{expected}".
_WITHOUT_CTX: dict[str, dict[Lang, str]] = {
    "choice_invalid": {"id": "Pilihan tidak valid.", "en": "Invalid choice."},
    "string_too_long": {"id": "Isian terlalu panjang.", "en": "Too long."},
    "string_too_short": {"id": "Isian terlalu pendek.", "en": "Too short."},
    "otp_resend_limit": {
        "id": "Batas permintaan pesan konfirmasi untuk pendaftaran ini sudah tercapai.",
        "en": "This registration has reached its limit of confirmation messages.",
    },
    "contact_change_limit": {
        "id": "Batas perubahan email atau nomor HP untuk pendaftaran ini sudah tercapai.",
        "en": "This registration has reached its limit of contact changes.",
    },
}

# pydantic's built-in error types → our codes. Several pydantic types mean the same thing to a
# person filling in a form, so they share one code and one message.
_PYDANTIC_TYPES: dict[str, str] = {
    "missing": "missing",
    "string_type": "string_type",
    "string_unicode": "string_type",
    "bool_type": "bool_type",
    "bool_parsing": "bool_type",
    "date_type": "date_invalid",
    "date_parsing": "date_invalid",
    "date_from_datetime_parsing": "date_invalid",
    "date_from_datetime_inexact": "date_invalid",
    "literal_error": "choice_invalid",
    "enum": "choice_invalid",
    "string_too_long": "string_too_long",
    "string_too_short": "string_too_short",
    "extra_forbidden": "extra_forbidden",
    "json_invalid": "json_invalid",
    "json_type": "json_invalid",
    "model_type": "body_not_object",
    "model_attributes_type": "body_not_object",
    "dict_type": "body_not_object",
}

_BODY_LEVEL = frozenset({"json_invalid", "body_not_object"})


def message(code: str, lang: Lang, /, **ctx: object) -> str:
    """The text for ``code`` in ``lang``; unknown codes get the generic ``invalid`` text."""
    texts = MESSAGES.get(code) or MESSAGES["invalid"]
    template = texts.get(lang) or texts["id"]
    try:
        return template.format_map(ctx)
    except Exception:  # a message must never turn a 4xx into a 500
        fallback = _WITHOUT_CTX.get(code) or MESSAGES["invalid"]
        return fallback.get(lang) or fallback["id"]


# WIB is UTC+7 all year (no daylight saving since 1964): a fixed offset, so no time zone
# database is needed in the image.
WIB = timezone(timedelta(hours=7), "WIB")

_WEEKDAYS: dict[Lang, tuple[str, ...]] = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS: dict[Lang, tuple[str, ...]] = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
        "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December",
    ),
}


def deadline_text(at: datetime, lang: Lang) -> str:
    """A deadline in words, as the status page shows one ("Sabtu, 5 Desember pukul 16.00",
    "Saturday 5 December at 16:00"), in Jakarta time and saying so: a message is read later,
    on any clock. Minutes are cut, never rounded up, so the time told is never past the real
    one. Plain ASCII in both languages, which keeps a mail on its template path."""
    local = at.astimezone(WIB)
    weekday = _WEEKDAYS[lang][local.weekday()]
    month = _MONTHS[lang][local.month - 1]
    if lang == "en":
        return f"{weekday} {local.day} {month} at {local.hour:02d}:{local.minute:02d} WIB"
    return f"{weekday}, {local.day} {month} pukul {local.hour:02d}.{local.minute:02d} WIB"


_MAX_LANGUAGE_RANGES = 32
_Q_VALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", re.ASCII)


def pick_language(accept_language: str | None) -> Lang:
    """Choose between Indonesian and English from an Accept-Language header (RFC 9110 §12.5.4).

    The highest q-value among ranges we can serve wins; on a tie the earlier range wins, which is
    how browsers list preference. ``*`` and anything unparsable mean Indonesian.
    """
    if not accept_language:
        return "id"
    best: Lang = "id"
    best_q = 0.0
    for part in accept_language.split(",", _MAX_LANGUAGE_RANGES)[:_MAX_LANGUAGE_RANGES]:
        tag, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _Q_VALUE.fullmatch(value) else 0.0
        primary = tag.split("-", 1)[0].lower()
        # "in" is the pre-1989 ISO 639 code for Indonesian; old Android and Java still send it.
        lang: Lang | None = (
            "en" if primary == "en" else "id" if primary in ("id", "in", "*") else None
        )
        if lang is not None and q > best_q:
            best, best_q = lang, q
    return best


@dataclass(frozen=True)
class FieldError:
    #: Dotted location without the leading "body" ("nik", "email"); "" for the whole body.
    field: str
    code: str
    message: str


_QUOTED = re.compile(r"'([^']*)'")


def _field(loc: object) -> str:
    if isinstance(loc, str):
        parts: list[object] = [loc]
    elif isinstance(loc, Sequence):
        parts = list(loc)
    else:
        return ""
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(str(p) for p in parts)


def _ctx_for(code: str, raw_ctx: object) -> dict[str, object]:
    ctx = dict(raw_ctx) if isinstance(raw_ctx, Mapping) else {}
    if code == "choice_invalid":
        # pydantic words it in English ("'M' or 'F'"); keep just the values for either language,
        # or none at all when they cannot be picked out.
        expected = ctx.pop("expected", None)
        values = _QUOTED.findall(expected) if isinstance(expected, str) else []
        if values:
            ctx["expected"] = ", ".join(values)
    return {str(k): v for k, v in ctx.items()}


def _localize_one(error: object, lang: Lang) -> FieldError:
    if not isinstance(error, Mapping):
        return FieldError("", "invalid", message("invalid", lang))
    raw_type = error.get("type")
    if isinstance(raw_type, str) and raw_type in _PYDANTIC_TYPES:
        code = _PYDANTIC_TYPES[raw_type]
    elif isinstance(raw_type, str) and raw_type in MESSAGES:
        code = raw_type  # one of ours, raised as PydanticCustomError(code, ...)
    else:
        code = "invalid"
    # json_invalid's loc ends in a character offset, and a non-object body sits at the root:
    # neither is a field the client can highlight.
    field = "" if code in _BODY_LEVEL else _field(error.get("loc"))
    if code == "missing" and field == "":
        code = "body_not_object"
    return FieldError(field, code, message(code, lang, **_ctx_for(code, error.get("ctx"))))


def localize_validation_errors(errors: Sequence[Mapping[str, Any]], lang: Lang) -> list[FieldError]:
    """Turn pydantic/FastAPI validation errors into localized field errors. Never raises."""
    out: list[FieldError] = []
    try:
        for error in errors:
            try:
                out.append(_localize_one(error, lang))
            except Exception:  # garbage in must still give a 422, not a 500
                out.append(FieldError("", "invalid", message("invalid", lang)))
    except Exception:  # e.g. a non-iterable or an iterator that fails midway
        out.append(FieldError("", "invalid", message("invalid", lang)))
    return out
