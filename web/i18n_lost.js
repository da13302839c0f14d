// Texts of the "lost my status link" page (/tautan) and of the links that lead to it. Merged
// into the page's table (i18n.js) by lost.js, adding keys only: `titles` and `errors` are
// merged into the tables of the same name.
export const LOST_TEXT = {
  id: {
    titles: { lost: "Tautan status hilang – Program Gelombang" },
    lostLinkCta: "Kehilangan tautan status?",
    lostTitle: "Kirim ulang tautan status",
    lostIntro:
      "Masukkan NIK dan email atau nomor HP yang Anda isi saat mendaftar. Tautan status " +
      "akan dikirim ulang ke kontak itu; demi keamanan, tautan tidak pernah ditampilkan di " +
      "halaman ini.",
    lostContact: "Email atau nomor HP yang dipakai saat mendaftar",
    lostContactHint: "Contoh: nama@contoh.com atau 0812xxxxxxxx",
    lostSubmit: "Kirim tautan status",
    lostSending: "Mengirim…",
    lostSent:
      "Jika NIK ini terdaftar dengan kontak tersebut, kami telah mengirim tautan status ke " +
      "kontak itu. Periksa email atau SMS Anda.",
    lostSentHint:
      "Tidak ada pesan dalam beberapa menit? Periksa folder spam, atau coba kontak lain yang " +
      "mungkin Anda pakai saat mendaftar.",
    lostAgain: "Coba dengan kontak lain",
    lostBusy: "Situs sedang ramai atau koneksi terputus. Kami mencoba lagi otomatis…",
    lostFailed: "Permintaan belum terkirim. Periksa koneksi Anda lalu tekan tombol lagi.",
    errors: {
      status_link_too_many:
        "Terlalu banyak permintaan tautan status untuk NIK ini atau dari jaringan Anda. " +
        "Silakan coba lagi nanti.",
    },
  },
  en: {
    titles: { lost: "Lost status link – Gelombang programme" },
    lostLinkCta: "Lost your status link?",
    lostTitle: "Send the status link again",
    lostIntro:
      "Enter your NIK and the email address or mobile number you gave when you signed up. " +
      "The status link is sent again to that contact; for your safety it is never shown on " +
      "this page.",
    lostContact: "Email or mobile number used when signing up",
    lostContactHint: "Example: name@example.com or 0812xxxxxxxx",
    lostSubmit: "Send the status link",
    lostSending: "Sending…",
    lostSent:
      "If this NIK was registered with this contact, we have sent the status link to it. " +
      "Check your email or SMS.",
    lostSentHint:
      "No message within a few minutes? Check the spam folder, or try another contact you " +
      "may have used when signing up.",
    lostAgain: "Try another contact",
    lostBusy: "The site is busy or the connection dropped. We are trying again…",
    lostFailed: "The request was not sent. Check your connection and press the button again.",
    errors: {
      status_link_too_many:
        "Too many requests for the status link for this NIK or from your network. Please " +
        "try again later.",
    },
  },
};
