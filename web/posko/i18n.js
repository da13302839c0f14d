// Texts of the officers' page. Field error messages and the employment choices come from the
// public page's texts (/i18n.js), so a walk-in's mistake reads the same at the posko as online;
// what only an officer sees is here. Indonesian first, as on the public page.
import { TEXT as PUBLIC } from "/i18n.js";

const id = {
  brand: "Gelombang · Posko",
  titles: {
    signIn: "Masuk petugas – Posko Gelombang",
    form: "Pendaftaran walk-in – Posko Gelombang",
    formErrors: "Perlu diperbaiki – Pendaftaran walk-in – Posko Gelombang",
    answer: "Hasil pendaftaran – Posko Gelombang",
    today: "Entri hari ini – Posko Gelombang",
    batch: "Unggah CSV – Posko Gelombang",
  },
  switchTo: "English",
  switchLabel: "Switch to English",
  skip: "Langsung ke isi",
  nav: { label: "Menu petugas", form: "Daftarkan walk-in", today: "Entri hari ini", batch: "Unggah CSV", signOut: "Keluar" },
  // Sign-in
  signInTitle: "Masuk petugas posko",
  signInIntro:
    "Halaman ini untuk petugas posko pendaftaran. Masukkan kunci API petugas yang Anda terima " +
    "dari admin program.",
  keyLabel: "Kunci API petugas",
  keyHint:
    "Dimulai dengan gpk_. Kunci hanya disimpan di tab ini dan hilang saat tab ditutup; " +
    "jangan tulis di kertas yang tertinggal di meja.",
  signIn: "Masuk",
  signingIn: "Memeriksa kunci…",
  keyMissing: "Masukkan kunci API petugas.",
  keyRefused: "Kunci ini tidak dikenal atau sudah dicabut. Minta kunci baru kepada admin program.",
  keyRefusedLater:
    "Server menolak kunci petugas Anda (tidak dikenal atau sudah dicabut). Entri yang belum " +
    "terkirim tetap tersimpan di perangkat ini; masuk lagi dengan kunci yang berlaku untuk " +
    "mengirimnya.",
  keyUnchecked:
    "Kunci belum dapat diperiksa karena server tidak dapat dihubungi. Anda tetap bisa " +
    "mencatat pendaftar; entri dikirim begitu koneksi kembali.",
  otherOwner: (n) =>
    `${n} entri lain di perangkat ini disimpan dengan kunci petugas lain. Entri itu dikirim ` +
    "saat petugas tersebut masuk lagi di perangkat ini.",
  takeOver: "Saya yang mencatatnya: kirim dengan kunci saya",
  signedOutPending: (n) =>
    `Anda sudah keluar. ${n} entri belum terkirim dan tetap tersimpan di perangkat ini; ` +
    "entri itu dikirim saat Anda masuk lagi.",
  // Connection and queue line in the header
  online: "Terhubung",
  offline: "Tidak ada koneksi",
  queueLine: (saved, sent) =>
    saved + sent === 0
      ? "Semua entri sudah terkirim."
      : `Di perangkat ini: ${saved} belum terkirim, ${sent} menunggu jawaban server.`,
  retryAt: (clock) => `Dicoba lagi sekitar pukul ${clock}.`,
  // The walk-in form
  formTitle: "Daftarkan pendaftar walk-in",
  formIntro:
    "Isi sesuai KTP asli yang Anda lihat. Saat Anda menekan “Simpan dan kirim”, entri " +
    "langsung tersimpan di perangkat ini lalu dikirim otomatis, juga jika koneksi sedang putus.",
  nik: "NIK (16 angka, sesuai KTP)",
  nikHint: "Tanggal lahir terisi otomatis dari NIK.",
  fullName: "Nama lengkap sesuai KTP",
  birthDate: "Tanggal lahir",
  birthDateHint: "Periksa kembali sesuai KTP.",
  contactLegend: "Kontak pendaftar (tidak wajib)",
  contactHint:
    "Boleh dikosongkan: pernyataan Anda bahwa KTP sudah dilihat menggantikan konfirmasi kontak.",
  phone: "Nomor HP pendaftar",
  phoneHint: "Contoh: 0812xxxxxxxx",
  email: "Email pendaftar",
  province: "Provinsi tempat tinggal sekarang",
  regency: "Kabupaten/kota tempat tinggal sekarang",
  domicileHint: "Boleh berbeda dengan alamat di KTP. Kuota dibagi menurut tempat tinggal.",
  employment: "Status pekerjaan",
  education: "Apakah pendaftar sedang sekolah atau kuliah?",
  socialAid: "Apakah pendaftar sedang menerima bantuan sosial lain?",
  consent:
    "Pendaftar menyatakan datanya benar dan menyetujui syarat dan ketentuan program, termasuk " +
    "pemeriksaan NIK di data kependudukan (Dukcapil); saya sudah menjelaskannya.",
  consentHint: "Syarat dan ketentuan untuk dibacakan atau ditunjukkan:",
  attest: "Saya, petugas, sudah melihat KTP asli pendaftar dan data di atas sesuai dengan KTP itu.",
  save: "Simpan dan kirim",
  errorSummary: "Ada isian yang perlu diperbaiki:",
  fixing: "Memperbaiki entri yang ditolak. Entri lama diganti saat Anda menyimpan.",
  // The walk-in's answer
  answerTitle: "Hasil pendaftaran",
  state: {
    saved: "Tersimpan di perangkat ini, belum terkirim",
    sent: "Terkirim, menunggu jawaban server",
    accepted: "Diterima server",
    refused: "Ditolak server",
  },
  savedOffline:
    "Tidak ada koneksi, jadi entri ini tersimpan di perangkat ini dan dikirim otomatis begitu " +
    "koneksi kembali. Anda bisa melayani pendaftar berikutnya.",
  savedWaiting: (why, clock) =>
    `Belum diterima: ${why}. Dikirim lagi otomatis sekitar pukul ${clock}; tidak akan ` +
    "tercatat dua kali.",
  savedQueued: "Entri tersimpan di perangkat ini dan sedang dikirim.",
  sentWaiting:
    "Sudah dikirim, jawaban server belum datang. Jika jawabannya hilang, entri dikirim lagi " +
    "dengan kunci yang sama, jadi pendaftar tetap tercatat satu kali.",
  problem: {
    busy: "server sedang ramai",
    server: (code) => `server bermasalah (kode ${code})`,
    timeout: "server tidak menjawab tepat waktu",
    network: "koneksi terputus",
    offline: "tidak ada koneksi",
    nik_check_pending: "NIK ini masih diproses oleh pendaftaran lain",
  },
  sendNow: "Kirim sekarang",
  acceptedText:
    "Pendaftaran diterima dan tersimpan aman. Selanjutnya NIK diperiksa di data kependudukan; " +
    "hasilnya terlihat di “Entri hari ini”.",
  registrationNumber: "Nomor pendaftaran",
  statusCode: "Kode status",
  statusLink: "Tautan status",
  copyLink: "Salin tautan",
  copied: "Tautan disalin.",
  copySelected: "Tautan sudah dipilih: salin dengan Ctrl+C atau tekan lama lalu Salin.",
  printSlip: "Cetak bukti",
  nextWalkIn: "Daftarkan pendaftar berikutnya",
  refusedText: "Server menolak entri ini. Perbaiki data bersama pendaftar, lalu simpan lagi:",
  alreadyText:
    "NIK ini sudah terdaftar, jadi tidak perlu didaftarkan lagi. Pendaftaran pertama tetap " +
    "berlaku. Periksa juga apakah NIK salah ketik.",
  refusedStatus: (code) => `Server menolak pengiriman ini (kode ${code}).`,
  fixEntry: "Perbaiki data",
  removeEntry: "Hapus entri ini",
  removed: "Entri dihapus dari perangkat ini.",
  notFound: "Entri ini tidak ada lagi di perangkat ini.",
  nikMasked: (last4) => `NIK ****${last4}`,
  // The printed slip
  slipTitle: "Bukti pendaftaran Program Gelombang",
  slipDate: "Tanggal",
  slipKeep:
    "Simpan bukti ini. Buka tautan status di HP atau komputer mana pun, atau tunjukkan bukti " +
    "ini di posko, untuk melihat status pendaftaran. Jangan berikan kepada orang lain: siapa " +
    "pun yang memegangnya dapat melihat status Anda.",
  // Today
  todayTitle: "Entri hari ini",
  todayIntro:
    "Entri yang tersimpan di perangkat ini dan semua pendaftaran posko Anda hari ini, dengan " +
    "statusnya di server. Diperbarui otomatis.",
  todayEmpty: "Belum ada entri hari ini.",
  todayServerFailed:
    "Daftar dari server belum bisa dimuat (tidak ada koneksi atau server sibuk); yang tampil " +
    "hanya catatan di perangkat ini.",
  todayUpdated: (clock) => `Diperbarui pukul ${clock}.`,
  source: { device: "perangkat ini", batch: "unggahan CSV", other: "perangkat lain" },
  serverStatus: {
    submitted: "diterima, sedang diproses",
    contact_pending: "menunggu konfirmasi kontak",
    contact_confirmed: "sedang diperiksa di Dukcapil",
    nik_verified: "NIK cocok",
    verified: "terverifikasi, ikut undian",
    waitlisted: "belum terpilih, ikut gelombang berikutnya",
    selected: "terpilih",
    revoked: "dicabut",
    rejected: "ditolak",
  },
  reasons: {
    nik_not_found: "NIK tidak ditemukan di data kependudukan",
    nik_data_mismatch: "nama atau tanggal lahir tidak sesuai data kependudukan",
    duplicate: "NIK sudah terdaftar lewat pendaftaran lain",
    contact_expired: "kontak tidak dikonfirmasi",
    contact_undeliverable: "kontak tidak dapat dihubungi",
  },
  open: "Buka",
  // Batch upload
  batchTitle: "Unggah berkas CSV",
  batchIntro:
    "Untuk banyak pendaftar sekaligus (paling banyak 10.000 baris, 5 MB). Baris pertama berisi " +
    "nama kolom; pemisah koma, titik koma, atau tab; UTF-8. Kolom wajib:",
  batchOptional: "Kolom tidak wajib: phone, email, gender. Ya/tidak boleh ditulis ya/tidak, true/false, atau 1/0.",
  template: "Unduh contoh berkas",
  fileLabel: "Berkas CSV",
  upload: "Unggah",
  uploading: "Mengunggah…",
  noFile: "Pilih berkas CSV terlebih dahulu.",
  uploadOffline: "Tidak ada koneksi. Unggah lagi setelah koneksi kembali; berkas tidak disimpan di perangkat ini.",
  uploadFailed: (why) => `Berkas belum terunggah: ${why}. Coba unggah lagi.`,
  fileRefused: "Berkas ditolak seluruhnya:",
  fileTooLarge: "Berkas terlalu besar (paling besar 5 MB). Bagi menjadi beberapa berkas.",
  batchAccepted: (total, invalid) =>
    `Berkas diterima: ${total} baris, ${invalid} baris tidak valid. Baris yang valid sedang dikirim.`,
  batchProgress: "Kemajuan",
  batchDone: "Selesai.",
  batchWorking: "Sedang diproses…",
  batchPollFailed: "Kemajuan belum bisa diperbarui; dicoba lagi otomatis.",
  counts: {
    total: "Jumlah baris",
    accepted: "Diterima",
    already_submitted: "Sudah pernah dikirim posko ini",
    invalid: "Tidak valid",
    rejected: "Ditolak",
    failed: "Gagal (unggah lagi)",
    pending: "Belum diproses",
  },
  countsCaption: "Hasil per baris",
  reportTitle: "Laporan kesalahan per baris",
  reportDownload: "Unduh laporan kesalahan (CSV)",
  reportHead: ["Baris", "Kolom", "Kode", "Keterangan"],
  reportNone: "Tidak ada baris yang bermasalah.",
  reportFailed: "Laporan belum bisa dimuat. Tekan tombol unduh untuk mencoba lagi.",
  errors: {
    ...PUBLIC.id.errors,
    attestation_required: "Petugas wajib menyatakan telah melihat KTP asli pendaftar.",
    consent_required: "Pendaftar perlu menyetujui pernyataan ini.",
    in_formal_education: "Program ini tidak terbuka bagi yang sedang sekolah atau kuliah.",
    nik_in_queue: "NIK ini sudah ada di antrean perangkat ini dan belum diterima server.",
    nik_already_registered: "NIK ini sudah terdaftar.",
    officer_unauthorized: "Kunci API petugas tidak dikenal atau sudah dicabut.",
  },
  employmentOptions: PUBLIC.id.employmentOptions,
  choose: PUBLIC.id.choose,
  chooseProvinceFirst: PUBLIC.id.chooseProvinceFirst,
  regionsLoading: PUBLIC.id.regionsLoading,
  regionsFailed: "Daftar provinsi belum bisa dimuat.",
  regionsRetry: PUBLIC.id.regionsRetry,
  yes: "Ya",
  no: "Tidak",
  termsLink: "Syarat dan ketentuan",
};

const en = {
  brand: "Gelombang · Posko",
  titles: {
    signIn: "Officer sign-in – Gelombang posko",
    form: "Walk-in registration – Gelombang posko",
    formErrors: "Needs fixing – Walk-in registration – Gelombang posko",
    answer: "Registration result – Gelombang posko",
    today: "Today's entries – Gelombang posko",
    batch: "CSV upload – Gelombang posko",
  },
  switchTo: "Bahasa Indonesia",
  switchLabel: "Ganti ke Bahasa Indonesia",
  skip: "Skip to content",
  nav: { label: "Officer menu", form: "Register a walk-in", today: "Today's entries", batch: "Upload CSV", signOut: "Sign out" },
  signInTitle: "Posko officer sign-in",
  signInIntro:
    "This page is for officers at registration posts. Enter the officer API key you received " +
    "from the programme admin.",
  keyLabel: "Officer API key",
  keyHint:
    "It starts with gpk_. The key is kept in this tab only and is gone when the tab closes; do " +
    "not write it on paper left on the desk.",
  signIn: "Sign in",
  signingIn: "Checking the key…",
  keyMissing: "Enter the officer API key.",
  keyRefused: "This key is unknown or revoked. Ask the programme admin for a new one.",
  keyRefusedLater:
    "The server refused your officer key (unknown or revoked). Entries not sent yet stay on " +
    "this device; sign in again with a valid key to send them.",
  keyUnchecked:
    "The key could not be checked because the server cannot be reached. You can still record " +
    "walk-ins; entries are sent when the connection returns.",
  otherOwner: (n) =>
    `${n} other entries on this device were saved with another officer's key. They are sent ` +
    "when that officer signs in on this device again.",
  takeOver: "I recorded them: send them with my key",
  signedOutPending: (n) =>
    `You are signed out. ${n} entries not sent yet stay on this device; they are sent when ` +
    "you sign in again.",
  online: "Online",
  offline: "No connection",
  queueLine: (saved, sent) =>
    saved + sent === 0
      ? "Every entry has been sent."
      : `On this device: ${saved} not sent yet, ${sent} waiting for the server's answer.`,
  retryAt: (clock) => `Next try at about ${clock}.`,
  formTitle: "Register a walk-in",
  formIntro:
    "Fill this in from the original ID card (KTP) you have seen. When you press “Save and " +
    "send”, the entry is stored on this device at once and sent automatically, also while the " +
    "connection is down.",
  nik: "NIK (16 digits, as on the KTP)",
  nikHint: "The birth date is filled in from the NIK.",
  fullName: "Full name as on the KTP",
  birthDate: "Date of birth",
  birthDateHint: "Check it against the KTP.",
  contactLegend: "Walk-in's contact (optional)",
  contactHint:
    "May be left empty: your statement that you saw the KTP replaces the contact check.",
  phone: "Walk-in's mobile number",
  phoneHint: "Example: 0812xxxxxxxx",
  email: "Walk-in's email",
  province: "Province of current residence",
  regency: "Regency/city of current residence",
  domicileHint: "May differ from the KTP address. Quotas are split by residence.",
  employment: "Employment status",
  education: "Is the walk-in currently in school or university?",
  socialAid: "Does the walk-in currently receive other social aid?",
  consent:
    "The walk-in declares the data true and agrees to the programme's terms, including the NIK " +
    "check against the civil registry (Dukcapil); I have explained them.",
  consentHint: "Terms to read out or show:",
  attest: "I, the officer, have seen the walk-in's original ID card (KTP) and the data above matches it.",
  save: "Save and send",
  errorSummary: "Some answers need fixing:",
  fixing: "Fixing a refused entry. The old entry is replaced when you save.",
  answerTitle: "Registration result",
  state: {
    saved: "Saved on this device, not sent yet",
    sent: "Sent, waiting for the server's answer",
    accepted: "Accepted by the server",
    refused: "Refused by the server",
  },
  savedOffline:
    "There is no connection, so this entry is saved on this device and sent automatically as " +
    "soon as the connection returns. You can serve the next walk-in.",
  savedWaiting: (why, clock) =>
    `Not accepted yet: ${why}. It is sent again automatically at about ${clock}; it will not ` +
    "be registered twice.",
  savedQueued: "The entry is saved on this device and being sent.",
  sentWaiting:
    "Sent; the server's answer has not arrived yet. If the answer is lost the entry is sent " +
    "again with the same key, so the walk-in is still registered once.",
  problem: {
    busy: "the server is busy",
    server: (code) => `a server error (code ${code})`,
    timeout: "the server did not answer in time",
    network: "the connection dropped",
    offline: "no connection",
    nik_check_pending: "another registration with this NIK is still being processed",
  },
  sendNow: "Send now",
  acceptedText:
    "The registration is accepted and stored safely. The NIK is checked against the civil " +
    "registry next; the result shows under “Today's entries”.",
  registrationNumber: "Registration number",
  statusCode: "Status code",
  statusLink: "Status link",
  copyLink: "Copy link",
  copied: "Link copied.",
  copySelected: "The link is selected: copy it with Ctrl+C, or press and hold, then Copy.",
  printSlip: "Print slip",
  nextWalkIn: "Register the next walk-in",
  refusedText: "The server refused this entry. Fix the data with the walk-in, then save again:",
  alreadyText:
    "This NIK is already registered, so there is no need to register it again. The first " +
    "registration still counts. Also check the NIK for a typo.",
  refusedStatus: (code) => `The server refused this request (code ${code}).`,
  fixEntry: "Fix the data",
  removeEntry: "Remove this entry",
  removed: "The entry was removed from this device.",
  notFound: "This entry is no longer on this device.",
  nikMasked: (last4) => `NIK ****${last4}`,
  slipTitle: "Gelombang programme registration slip",
  slipDate: "Date",
  slipKeep:
    "Keep this slip. Open the status link on any phone or computer, or show this slip at a " +
    "posko, to see the registration's status. Do not give it to anyone else: whoever holds it " +
    "can see your status.",
  todayTitle: "Today's entries",
  todayIntro:
    "Entries stored on this device and all of your posko's registrations today, with their " +
    "status at the server. Refreshed automatically.",
  todayEmpty: "No entries today yet.",
  todayServerFailed:
    "The server's list could not be loaded (no connection, or the server is busy); only this " +
    "device's records are shown.",
  todayUpdated: (clock) => `Updated at ${clock}.`,
  source: { device: "this device", batch: "CSV upload", other: "another device" },
  serverStatus: {
    submitted: "received, being processed",
    contact_pending: "waiting for contact confirmation",
    contact_confirmed: "being checked with Dukcapil",
    nik_verified: "NIK matches",
    verified: "verified, in the draw",
    waitlisted: "not selected yet, in the next wave",
    selected: "selected",
    revoked: "revoked",
    rejected: "rejected",
  },
  reasons: {
    nik_not_found: "NIK not found in the civil registry",
    nik_data_mismatch: "name or birth date does not match the civil registry",
    duplicate: "NIK already registered by another sign-up",
    contact_expired: "contact not confirmed",
    contact_undeliverable: "contact unreachable",
  },
  open: "Open",
  batchTitle: "Upload a CSV file",
  batchIntro:
    "For many walk-ins at once (at most 10,000 rows, 5 MB). The first row names the columns; " +
    "separated by commas, semicolons or tabs; UTF-8. Required columns:",
  batchOptional: "Optional columns: phone, email, gender. Yes/no may be written ya/tidak, true/false or 1/0.",
  template: "Download an example file",
  fileLabel: "CSV file",
  upload: "Upload",
  uploading: "Uploading…",
  noFile: "Choose a CSV file first.",
  uploadOffline: "No connection. Upload again once the connection is back; the file is not kept on this device.",
  uploadFailed: (why) => `The file was not uploaded: ${why}. Try uploading it again.`,
  fileRefused: "The whole file was refused:",
  fileTooLarge: "The file is too large (at most 5 MB). Split it into several files.",
  batchAccepted: (total, invalid) =>
    `File accepted: ${total} rows, ${invalid} of them invalid. The valid rows are being sent.`,
  batchProgress: "Progress",
  batchDone: "Done.",
  batchWorking: "Processing…",
  batchPollFailed: "Progress could not be refreshed; trying again automatically.",
  counts: {
    total: "Rows",
    accepted: "Accepted",
    already_submitted: "Already sent by this posko",
    invalid: "Invalid",
    rejected: "Refused",
    failed: "Failed (upload again)",
    pending: "Not processed yet",
  },
  countsCaption: "Outcome per row",
  reportTitle: "Error report per row",
  reportDownload: "Download the error report (CSV)",
  reportHead: ["Row", "Column", "Code", "Message"],
  reportNone: "No row has a problem.",
  reportFailed: "The report could not be loaded. Press the download button to try again.",
  errors: {
    ...PUBLIC.en.errors,
    attestation_required: "The officer must confirm having seen the walk-in's original ID card (KTP).",
    consent_required: "The walk-in needs to agree to this statement.",
    in_formal_education: "The programme is not open to people currently in school or university.",
    nik_in_queue: "This NIK is already in this device's queue and not accepted yet.",
    nik_already_registered: "This NIK is already registered.",
    officer_unauthorized: "The officer API key is unknown or revoked.",
  },
  employmentOptions: PUBLIC.en.employmentOptions,
  choose: PUBLIC.en.choose,
  chooseProvinceFirst: PUBLIC.en.chooseProvinceFirst,
  regionsLoading: PUBLIC.en.regionsLoading,
  regionsFailed: "The province list could not be loaded.",
  regionsRetry: PUBLIC.en.regionsRetry,
  yes: "Yes",
  no: "No",
  termsLink: "Terms and conditions",
};

export const TEXT = { id, en };
