// Page texts. Indonesian first: many registrants use shared or borrowed phones whose browser
// language says nothing about the reader, so the browser language is not used to pick one.
export const TEXT = {
  id: {
    title: "Pendaftaran Program Gelombang",
    switchTo: "English",
    switchLabel: "Switch to English",
    intro:
      "Isi data sesuai KTP. Pendaftaran gratis; peserta dipilih secara acak per gelombang, " +
      "jadi mendaftar lebih cepat tidak menambah peluang.",
    nik: "NIK (16 angka, lihat KTP)",
    nikHint: "Nomor Induk Kependudukan di KTP atau Kartu Keluarga.",
    fullName: "Nama lengkap sesuai KTP",
    birthDate: "Tanggal lahir",
    birthDateHint: "Terisi otomatis dari NIK; periksa kembali sesuai KTP.",
    contactLegend: "Kontak (isi minimal salah satu)",
    contactHint:
      "Kami perlu memastikan kontak Anda aktif. Email: kami kirim tautan konfirmasi. " +
      "Nomor HP: kami kirim kode 6 angka lewat SMS. Tidak punya email? Cukup isi nomor HP.",
    email: "Email (tidak wajib jika nomor HP diisi)",
    phone: "Nomor HP (tidak wajib jika email diisi)",
    phoneHint: "Contoh: 0812xxxxxxxx",
    province: "Provinsi tempat tinggal sekarang",
    regency: "Kabupaten/kota tempat tinggal sekarang",
    domicileHint: "Boleh berbeda dengan alamat di KTP. Kuota dibagi menurut tempat tinggal.",
    choose: "— Pilih —",
    chooseProvinceFirst: "— Pilih provinsi dahulu —",
    employment: "Status pekerjaan",
    employmentOptions: {
      laid_off: "Terkena PHK",
      furloughed: "Dirumahkan",
      job_seeker: "Pencari kerja",
      micro_business: "Pelaku usaha mikro/kecil",
      migrant_worker: "Pekerja migran yang tidak dapat kembali",
    },
    education: "Apakah Anda sedang sekolah atau kuliah?",
    socialAid: "Apakah Anda sedang menerima bantuan sosial lain?",
    yes: "Ya",
    no: "Tidak",
    consent: "Saya menyatakan data di atas benar dan menyetujui syarat dan ketentuan program.",
    submit: "Kirim pendaftaran",
    sending: "Mengirim…",
    errorSummary: "Ada isian yang perlu diperbaiki:",
    networkError: "Koneksi terputus. Data Anda masih ada; kami akan mencoba lagi.",
    // Client-side rules (codes match the API's error codes)
    errors: {
      missing: "Wajib diisi.",
      nik_format: "NIK harus terdiri dari 16 angka.",
      nik_province_unknown: "Kode provinsi pada NIK (2 angka pertama) tidak dikenal.",
      nik_regency_unknown: "Kode kabupaten/kota pada NIK (angka 3–4) tidak dikenal.",
      nik_date_invalid: "Tanggal lahir dalam NIK (angka 7–12) tidak valid.",
      nik_serial_zero: "Empat angka terakhir NIK tidak boleh 0000.",
      nik_birth_date_mismatch: "Tanggal lahir tidak sesuai dengan NIK. Periksa keduanya.",
      birth_date_in_future: "Tanggal lahir tidak boleh melewati hari ini.",
      birth_date_implausible: "Tanggal lahir tidak valid. Periksa tahun lahir.",
      age_under_18: "Pendaftar harus sudah berusia 18 tahun.",
      full_name_invalid: "Nama hanya boleh berisi huruf, spasi, titik, koma, ' dan -.",
      contact_required: "Isi alamat email atau nomor HP (minimal salah satu).",
      email_invalid: "Alamat email tidak valid. Contoh: nama@contoh.com.",
      phone_invalid: "Nomor HP tidak valid. Gunakan 08xxxxxxxxxx atau +628xxxxxxxxxx.",
      in_formal_education:
        "Mohon maaf, program ini tidak terbuka bagi yang sedang sekolah atau kuliah.",
      consent_required: "Anda perlu menyetujui pernyataan ini untuk melanjutkan.",
      otp_format: "Kode verifikasi terdiri dari 6 angka.",
    },
    queueTitle: "Anda dalam antrean",
    queueText:
      "Saat ini banyak sekali orang mendaftar. Data Anda tersimpan di halaman ini dan " +
      "akan dikirim otomatis begitu ada tempat. Jangan tutup atau muat ulang halaman ini.",
    queueEstimate: (s) => `Perkiraan waktu tunggu: sekitar ${s} detik.`,
    queueNext: (s) => `Mencoba lagi dalam ${s} detik…`,
    queueTrying: "Mencoba mengirim…",
    queueAttempts: (n) => `Percobaan ke-${n}.`,
    queueSafe: "Aman untuk menunggu: data Anda tidak akan terkirim dua kali.",
    acceptedTitle: "Pendaftaran diterima",
    statusTitle: "Status pendaftaran",
    saveLink:
      "Simpan tautan halaman ini (bookmark) untuk melihat status kapan saja. Jangan bagikan " +
      "tautan ini: siapa pun yang memilikinya dapat melihat status Anda.",
    nikLast4: (d) => `NIK berakhiran ${d}`,
    steps: {
      submitted: "Pendaftaran diterima",
      contact: "Konfirmasi email atau nomor HP",
      nik: "Pemeriksaan NIK di data kependudukan",
      verified: "Terverifikasi: ikut undian gelombang",
      wave: "Hasil gelombang",
    },
    stepState: { done: "selesai", current: "sedang berlangsung", todo: "belum" },
    statusText: {
      submitted: "Pendaftaran Anda sedang diproses.",
      contact_pending:
        "Buka tautan di email kami, atau masukkan kode 6 angka dari SMS di bawah ini.",
      contact_confirmed: "Kontak terkonfirmasi. Kami sedang memeriksa NIK Anda.",
      nik_verified: "NIK cocok dengan data kependudukan.",
      verified: "Data Anda lengkap. Anda ikut dalam undian gelombang berikutnya.",
      waitlisted:
        "Anda belum terpilih pada gelombang ini dan otomatis ikut gelombang berikutnya. " +
        "Tidak perlu mendaftar ulang.",
      selected: "Selamat, Anda terpilih! Ikuti petunjuk yang kami kirimkan.",
      revoked: "Kepesertaan dicabut karena pelatihan tidak dimulai dalam 30 hari.",
      rejected: "Pendaftaran tidak dapat dilanjutkan.",
    },
    notYet: "Pendaftaran diterima dan sedang dicatat. Halaman ini diperbarui otomatis.",
    contactTodo: {
      email: (hint, by) =>
        `Langkah berikutnya: buka email yang kami kirim ke ${hint} dan klik tautan ` +
        `konfirmasinya paling lambat ${by}. Tidak ada di kotak masuk? Periksa folder spam.`,
      sms: (hint, by) =>
        `Langkah berikutnya: masukkan kode 6 angka yang kami kirim lewat SMS ke ${hint} ` +
        `di bawah ini paling lambat ${by}. Belum menerima SMS? Minta kode baru.`,
    },
    refreshed: (t) => `Diperbarui ${t}.`,
    statusUnavailable: "Status belum bisa dimuat. Kami coba lagi sebentar lagi.",
    statusNotFound: "Status tidak ditemukan. Periksa kembali tautan status Anda.",
    otpTitle: "Masukkan kode SMS",
    otpLabel: "Kode 6 angka dari SMS",
    otpSubmit: "Konfirmasi kode",
    otpResend: "Kirim kode baru",
    otpOk: "Terima kasih, nomor HP Anda sudah dikonfirmasi.",
    confirmTitle: "Konfirmasi email",
    confirming: "Sedang mengonfirmasi email Anda…",
    confirmMissing: "Tautan tidak lengkap. Buka tautan lengkap dari email kami.",
    newRegistration: "Kembali ke formulir",
  },
  en: {
    title: "Gelombang programme registration",
    switchTo: "Bahasa Indonesia",
    switchLabel: "Ganti ke Bahasa Indonesia",
    intro:
      "Enter your details as on your ID card (KTP). Registration is free; participants are " +
      "drawn at random each wave, so signing up faster does not improve your chances.",
    nik: "NIK (16 digits, see your KTP)",
    nikHint: "The population number on your KTP or family card.",
    fullName: "Full name as on your KTP",
    birthDate: "Date of birth",
    birthDateHint: "Filled in from your NIK; please check it against your KTP.",
    contactLegend: "Contact (at least one)",
    contactHint:
      "We need to make sure we can reach you. Email: we send a confirmation link. Mobile: we " +
      "send a 6-digit code by SMS. No email? A mobile number is enough.",
    email: "Email (optional if you give a mobile number)",
    phone: "Mobile number (optional if you give an email)",
    phoneHint: "Example: 0812xxxxxxxx",
    province: "Province where you live now",
    regency: "Regency/city where you live now",
    domicileHint: "May differ from the address on your KTP. Quotas follow where you live.",
    choose: "— Choose —",
    chooseProvinceFirst: "— Choose a province first —",
    employment: "Employment status",
    employmentOptions: {
      laid_off: "Laid off",
      furloughed: "Furloughed",
      job_seeker: "Looking for work",
      micro_business: "Micro/small business owner",
      migrant_worker: "Migrant worker unable to return",
    },
    education: "Are you currently at school or university?",
    socialAid: "Do you currently receive other social aid?",
    yes: "Yes",
    no: "No",
    consent: "I confirm these details are correct and accept the programme's terms.",
    submit: "Submit registration",
    sending: "Sending…",
    errorSummary: "Some answers need fixing:",
    networkError: "The connection dropped. Your details are kept; we will try again.",
    errors: {
      missing: "This field is required.",
      nik_format: "The NIK must be exactly 16 digits.",
      nik_province_unknown: "The province code in the NIK (first 2 digits) is not recognised.",
      nik_regency_unknown: "The regency/city code in the NIK (digits 3–4) is not recognised.",
      nik_date_invalid: "The birth date inside the NIK (digits 7–12) is not a real date.",
      nik_serial_zero: "The last four digits of the NIK cannot be 0000.",
      nik_birth_date_mismatch: "The birth date does not match the NIK. Please check both.",
      birth_date_in_future: "The birth date cannot be in the future.",
      birth_date_implausible: "The birth date is not plausible. Check the year.",
      age_under_18: "You must be at least 18 years old to register.",
      full_name_invalid: "The name may only contain letters, spaces, . , ' and -.",
      contact_required: "Enter an email address or a mobile number (at least one).",
      email_invalid: "The email address is not valid. Example: name@example.com.",
      phone_invalid: "The mobile number is not valid. Use 08xxxxxxxxxx or +628xxxxxxxxxx.",
      in_formal_education:
        "Sorry, this programme is not open to people currently at school or university.",
      consent_required: "You need to accept this to continue.",
      otp_format: "The verification code is 6 digits.",
    },
    queueTitle: "You are in the queue",
    queueText:
      "A great many people are signing up right now. Your details are kept on this page and " +
      "will be sent automatically as soon as there is room. Do not close or reload this page.",
    queueEstimate: (s) => `Estimated wait: about ${s} seconds.`,
    queueNext: (s) => `Trying again in ${s} seconds…`,
    queueTrying: "Trying to send…",
    queueAttempts: (n) => `Attempt ${n}.`,
    queueSafe: "Waiting is safe: your registration will never be sent twice.",
    acceptedTitle: "Registration received",
    statusTitle: "Registration status",
    saveLink:
      "Bookmark this page to check your status at any time. Do not share this link: anyone " +
      "who has it can see your status.",
    nikLast4: (d) => `NIK ending in ${d}`,
    steps: {
      submitted: "Registration received",
      contact: "Email or mobile confirmed",
      nik: "NIK checked against the civil registry",
      verified: "Verified: included in the wave draw",
      wave: "Wave result",
    },
    stepState: { done: "done", current: "in progress", todo: "not yet" },
    statusText: {
      submitted: "Your registration is being processed.",
      contact_pending: "Open the link in our email, or enter the 6-digit code from the SMS below.",
      contact_confirmed: "Contact confirmed. We are checking your NIK.",
      nik_verified: "Your NIK matches the civil registry.",
      verified: "Your details are complete. You are in the draw for the next wave.",
      waitlisted:
        "You were not selected in this wave and are automatically in the next one. " +
        "There is no need to register again.",
      selected: "Congratulations, you were selected! Follow the instructions we sent you.",
      revoked: "Your place was withdrawn because no training was started within 30 days.",
      rejected: "This registration cannot continue.",
    },
    notYet: "Registration received and being recorded. This page updates by itself.",
    contactTodo: {
      email: (hint, by) =>
        `Next step: open the email we sent to ${hint} and click its confirmation link by ` +
        `${by}. Not in your inbox? Check the spam folder.`,
      sms: (hint, by) =>
        `Next step: enter below the 6-digit code we sent by SMS to ${hint}, by ${by}. ` +
        `No SMS yet? Ask for a new code.`,
    },
    refreshed: (t) => `Updated ${t}.`,
    statusUnavailable: "The status could not be loaded yet. We will try again shortly.",
    statusNotFound: "Status not found. Please check your status link.",
    otpTitle: "Enter the SMS code",
    otpLabel: "6-digit code from the SMS",
    otpSubmit: "Confirm code",
    otpResend: "Send a new code",
    otpOk: "Thank you, your mobile number is confirmed.",
    confirmTitle: "Email confirmation",
    confirming: "Confirming your email…",
    confirmMissing: "The link is incomplete. Open the full link from our email.",
    newRegistration: "Back to the form",
  },
};
