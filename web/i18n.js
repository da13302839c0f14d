// Page texts. Indonesian first: many registrants use shared or borrowed phones whose browser
// language says nothing about the reader, so the browser language is not used to pick one.
// Loaded with the page's first script, so every label is there before any data arrives.

// The programme's complaints desk (layanan pengaduan), shown wherever a text tells people to
// contact it. PLACEHOLDER: these are example values; put the programme's real complaints phone
// number and address here before going live (nothing else needs to change).
export const COMPLAINTS = {
  phone: "0800-000-0000",
  email: "pengaduan@gelombang.example",
};

// Legal texts (consent, terms) are a draft for the programme's legal officer to review; they say
// what the system actually does with the data (see DESIGN.md, "Personal data" in the README).
export const TEXT = {
  id: {
    title: "Pendaftaran Program Gelombang",
    titles: {
      form: "Pendaftaran Program Gelombang",
      formErrors: "Perlu diperbaiki – Pendaftaran Program Gelombang",
      wait: "Belum terkirim – Pendaftaran Program Gelombang",
      status: "Status pendaftaran – Program Gelombang",
      otp: "Kode SMS – Program Gelombang",
      confirm: "Konfirmasi email – Program Gelombang",
      terms: "Syarat dan ketentuan – Program Gelombang",
    },
    switchTo: "English",
    switchLabel: "Switch to English",
    complaints: ["Layanan pengaduan program Gelombang: telepon ", " atau email ", "."],
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
    regionsLoading: "— Memuat daftar… —",
    regionsFailed:
      "Daftar provinsi dan kabupaten/kota belum bisa dimuat, dan kami sudah berhenti " +
      "mencoba otomatis. Isian Anda tetap ada.",
    regionsRetry: "Muat daftar lagi",
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
    consent:
      "Saya menyatakan data di atas benar dan menyetujui syarat dan ketentuan program, " +
      "termasuk pemeriksaan NIK saya di data kependudukan (Dukcapil).",
    consentPurpose:
      "Untuk memastikan Anda memenuhi syarat, NIK, nama, dan tanggal lahir Anda dicocokkan " +
      "dengan data kependudukan Direktorat Jenderal Kependudukan dan Pencatatan Sipil " +
      "(Dukcapil) Kemendagri. Data Anda hanya dipakai untuk program ini, sesuai UU No. 27 " +
      "Tahun 2022 tentang Pelindungan Data Pribadi.",
    termsLink: "Baca syarat dan ketentuan serta hak Anda atas data",
    submit: "Kirim pendaftaran",
    sending: "Mengirim…",
    solvingButton: (pct) => `Menyiapkan pengiriman… ${pct}%`,
    solvingText:
      "Situs sedang ramai, jadi halaman ini mengerjakan pemeriksaan anti-robot sebelum " +
      "mengirim. Biasanya hanya beberapa detik; biarkan halaman ini terbuka.",
    errorSummary: "Ada isian yang perlu diperbaiki:",
    // Client-side rules and the API's field errors (codes match the API's error codes)
    errors: {
      missing: "Wajib diisi.",
      unknown: "Ada yang belum sesuai.",
      nik_format: "NIK harus terdiri dari 16 angka.",
      nik_province_unknown: "Kode provinsi pada NIK (2 angka pertama) tidak dikenal.",
      nik_regency_unknown: "Kode kabupaten/kota pada NIK (angka 3–4) tidak dikenal.",
      nik_date_invalid: "Tanggal lahir dalam NIK (angka 7–12) tidak valid.",
      nik_serial_zero: "Empat angka terakhir NIK tidak boleh 0000.",
      nik_birth_date_mismatch: "Tanggal lahir tidak sesuai dengan NIK. Periksa keduanya.",
      birth_date_in_future: "Tanggal lahir tidak boleh melewati hari ini.",
      birth_date_implausible: "Tanggal lahir tidak valid. Periksa tahun lahir.",
      date_invalid: "Tanggal tidak valid. Pilih tanggal lahir sesuai KTP.",
      age_under_18: "Pendaftar harus sudah berusia 18 tahun.",
      full_name_invalid: "Nama hanya boleh berisi huruf, spasi, titik, koma, ' dan -.",
      contact_required: "Isi alamat email atau nomor HP (minimal salah satu).",
      email_invalid: "Alamat email tidak valid. Contoh: nama@contoh.com.",
      phone_invalid: "Nomor HP tidak valid. Gunakan 08xxxxxxxxxx atau +628xxxxxxxxxx.",
      phone_not_mobile: "Gunakan nomor HP (seluler), bukan nomor telepon rumah atau kantor.",
      phone_not_indonesian:
        "Nomor HP harus nomor Indonesia (+62). Jika tidak ada, cukup isi alamat email.",
      province_unknown: "Provinsi tidak valid. Pilih provinsi dari daftar.",
      regency_unknown: "Kabupaten/kota tidak valid. Pilih dari daftar.",
      regency_not_in_province: "Kabupaten/kota yang dipilih tidak berada di provinsi itu.",
      in_formal_education:
        "Mohon maaf, program ini tidak terbuka bagi yang sedang sekolah atau kuliah.",
      consent_required: "Anda perlu menyetujui pernyataan ini untuk melanjutkan.",
      idempotency_key_conflict:
        "Pengiriman sebelumnya memakai data yang berbeda. Tekan “Kirim pendaftaran” lagi " +
        "untuk mengirim data yang sekarang.",
      idempotency_key_invalid:
        "Pengiriman tidak dapat diproses. Tekan “Kirim pendaftaran” lagi.",
      otp_format: "Kode verifikasi terdiri dari 6 angka.",
      otp_wrong: "Kode verifikasi salah. Periksa SMS terakhir yang Anda terima.",
      otp_locked: "Terlalu banyak percobaan kode yang salah. Minta kode baru.",
      otp_expired: "Kode verifikasi sudah kedaluwarsa atau belum dikirim. Minta kode baru.",
      otp_resend_too_soon: "Tunggu sebentar sebelum meminta kode baru.",
      otp_resend_queued: "Kode baru sedang dikirim ke nomor HP Anda.",
      otp_resend_limit:
        "Pesan konfirmasi sudah dikirim ulang sebanyak batasnya untuk satu pendaftaran, jadi " +
        "tidak ada lagi yang dikirim. Jika pesannya tidak pernah sampai, mungkin email atau " +
        "nomor HP-nya salah ketik: ubah di bawah. Jika sudah benar, periksa folder spam atau " +
        "sinyal HP Anda, atau hubungi layanan pengaduan.",
      contact_change_queued:
        "Kontak Anda sedang diubah. Pesan konfirmasi baru dikirim ke kontak yang baru; kode " +
        "atau tautan yang lama tidak berlaku lagi.",
      contact_change_closed:
        "Email atau nomor HP tidak dapat diubah lagi: kontaknya sudah dikonfirmasi atau " +
        "pendaftaran ini sudah selesai diproses.",
      contact_change_too_soon: "Kontak baru saja diubah. Tunggu sebentar sebelum mengubahnya lagi.",
      contact_change_limit:
        "Email atau nomor HP sudah diubah sebanyak batasnya untuk satu pendaftaran. Jika masih " +
        "salah, hubungi layanan pengaduan atau posko terdekat dengan membawa KTP.",
      contact_confirmed:
        "Terima kasih, kontak Anda sudah dikonfirmasi. Kami sedang memeriksa NIK Anda.",
      contact_already_confirmed:
        "Kontak Anda sudah dikonfirmasi sebelumnya. Tidak perlu melakukan apa pun lagi.",
      link_invalid:
        "Tautan konfirmasi tidak valid. Pastikan Anda membuka tautan lengkap dari email.",
      link_expired: "Tautan konfirmasi sudah kedaluwarsa: waktu untuk mengonfirmasi sudah habis.",
      link_replaced:
        "Tautan ini untuk alamat email yang sudah diganti, jadi tidak berlaku lagi. Buka " +
        "tautan di email konfirmasi terbaru, yang dikirim ke alamat yang baru.",
    },
    // Sending: what happened, and what the page will do next (it does exactly that).
    waitTitle: {
      busy: "Situs sedang ramai",
      server: "Ada gangguan di server kami",
      timeout: "Server tidak menjawab tepat waktu",
      network: "Koneksi terputus",
      offline: "Tidak ada koneksi internet",
    },
    waitWhat: {
      busy:
        "Pendaftaran Anda belum terkirim karena saat ini banyak sekali orang mendaftar. " +
        "Kami akan mengirimnya lagi secara otomatis.",
      nik_check_pending:
        "Pendaftaran lain dengan NIK ini masih sedang diproses. Kami akan mengirim lagi " +
        "secara otomatis, lalu Anda mendapat jawaban pasti.",
      server: (code) =>
        `Server kami menjawab dengan kesalahan (kode ${code}), jadi pendaftaran Anda belum ` +
        "dipastikan diterima. Ini bukan kesalahan Anda. Kami akan mengirim lagi secara otomatis.",
      timeout:
        "Kami belum mendapat jawaban dari server. Kami akan mengirim lagi secara otomatis; jika " +
        "pengiriman tadi sebenarnya sudah masuk, Anda tetap terdaftar satu kali saja.",
      network:
        "Pendaftaran belum terkirim karena koneksi ke server terputus. Kami akan mencoba lagi " +
        "secara otomatis, dan segera setelah koneksi kembali.",
      offline:
        "Perangkat Anda sedang tidak terhubung ke internet, jadi pendaftaran belum dikirim. " +
        "Kami akan mengirimnya begitu koneksi kembali.",
    },
    waitWhen: (s, clock) =>
      `Perkiraan waktu tunggu: sekitar ${s} detik (percobaan berikutnya sekitar pukul ${clock}).`,
    // From the gateway's figures (GET /api/v1/intake); s is at least the time to the next try.
    waitEstimate: (s, percent) =>
      `Perkiraan sampai pendaftaran Anda masuk: ${
        s >= 900 ? "lebih dari 15 menit" : s < 90 ? `sekitar ${s} detik` : `sekitar ${Math.round(s / 60)} menit`
      }. Saat ini ${percent} dari setiap 100 percobaan ditolak karena ramai; perkiraan ini ` +
      "diperbarui terus selama Anda menunggu.",
    waitTries: (n, max) => `Sudah dicoba ${n} kali; kami mencoba otomatis paling banyak ${max} kali.`,
    waitFair:
      "Ini bukan antrean: setiap percobaan adalah kesempatan baru, bukan nomor urut. " +
      "Mendaftar lebih awal juga tidak menambah peluang terpilih, karena peserta diundi secara " +
      "acak di antara pendaftar yang memenuhi syarat.",
    waitSafe:
      "Aman untuk menunggu. Isian Anda tersimpan di halaman ini (juga jika dimuat ulang) dan " +
      "tidak akan terkirim dua kali. Biarkan halaman ini terbuka agar kami bisa mengirimnya.",
    waitStop: "Berhenti dan kembali ke formulir",
    // When the page stops trying by itself (it says so, and does not try again unasked).
    gaveUp: {
      busy: (n) =>
        `Situs masih ramai setelah ${n} percobaan, jadi kami berhenti mencoba otomatis. ` +
        "Pendaftaran Anda belum terkirim; isian Anda tetap tersimpan di halaman ini. Tekan " +
        "“Kirim pendaftaran” untuk mencoba lagi nanti.",
      server: (n) =>
        `Server kami masih bermasalah setelah ${n} percobaan, jadi kami berhenti mencoba ` +
        "otomatis. Isian Anda tetap tersimpan di halaman ini. Tekan “Kirim pendaftaran” untuk " +
        "mencoba lagi nanti; pendaftaran tidak akan tercatat dua kali.",
      timeout: (n) =>
        `Server belum menjawab setelah ${n} percobaan, jadi kami berhenti mencoba otomatis. ` +
        "Isian Anda tetap tersimpan. Tekan “Kirim pendaftaran” untuk mencoba lagi nanti; " +
        "pendaftaran tidak akan tercatat dua kali.",
      network: (n) =>
        `Koneksi ke server masih terputus setelah ${n} percobaan, jadi kami berhenti mencoba ` +
        "otomatis. Isian Anda tetap tersimpan. Periksa koneksi, lalu tekan “Kirim pendaftaran”.",
      challenge: () =>
        "Pemeriksaan keamanan otomatis di halaman ini tidak berhasil, jadi pendaftaran belum " +
        "terkirim. Isian Anda tetap tersimpan: muat ulang halaman, lalu tekan “Kirim " +
        "pendaftaran” lagi.",
      cancelled: () =>
        "Pengiriman dihentikan; pendaftaran Anda belum terkirim. Isian Anda masih di sini: " +
        "ubah bila perlu, lalu tekan “Kirim pendaftaran”.",
    },
    tooLarge:
      "Data yang dikirim terlalu besar untuk diterima server (kode 413), jadi pendaftaran " +
      "belum terkirim dan tidak dicoba ulang otomatis. Periksa isian yang sangat panjang, lalu " +
      "tekan “Kirim pendaftaran” lagi.",
    refused: (code) =>
      `Server menolak pengiriman ini (kode ${code}), jadi pendaftaran belum terkirim dan tidak ` +
      "dicoba ulang otomatis. Isian Anda tetap tersimpan. Muat ulang halaman lalu kirim lagi; " +
      "jika tetap gagal, hubungi kami.",
    alreadyTitle: "NIK ini sudah terdaftar",
    alreadyText:
      "Anda tidak perlu mendaftar lagi: pendaftaran pertama tetap berlaku, dan pendaftar yang " +
      "belum terpilih otomatis ikut gelombang berikutnya. Buka tautan status dari email atau " +
      "SMS yang Anda terima saat pertama mendaftar.",
    alreadyTypo:
      "Periksa juga NIK yang Anda ketik: jika ada angka yang keliru, perbaiki lalu kirim lagi.",
    alreadyHelp:
      "Merasa belum pernah mendaftar, atau tautan status hilang? Datang ke posko terdekat " +
      "dengan membawa KTP, atau hubungi kami.",
    statusTitle: "Status pendaftaran",
    keepTitle: "Simpan tautan status ini",
    saveLink:
      "Dengan tautan ini Anda bisa melihat status kapan saja. Salin atau kirim ke diri sendiri " +
      "(misalnya ke catatan atau chat Anda sendiri). Jangan bagikan ke orang lain: siapa pun " +
      "yang memilikinya dapat melihat status Anda.",
    statusLinkLabel: "Tautan status Anda",
    copyLink: "Salin tautan",
    shareLink: "Kirim ke aplikasi lain",
    copied: "Tautan disalin.",
    copySelected: "Tautan sudah dipilih. Tekan lama pada tautan, lalu pilih Salin.",
    shareTitle: "Status pendaftaran Gelombang",
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
    rejectedHelp: "Ada pertanyaan tentang keputusan ini? Hubungi kami.",
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
    statusRetry: (t) => `Status belum bisa diperbarui. Kami coba lagi sekitar pukul ${t}.`,
    statusNotFound: "Status tidak ditemukan. Periksa kembali tautan status Anda.",
    otpTitle: "Masukkan kode SMS",
    otpLabel: "Kode 6 angka dari SMS",
    otpSubmit: "Konfirmasi kode",
    otpResend: "Kirim kode baru",
    otpOk: "Terima kasih, nomor HP Anda sudah dikonfirmasi.",
    // No automatic retry here: the person presses the button again, so the text says so.
    notSent: (what) =>
      `${what} belum terkirim karena koneksi terputus atau server sedang bermasalah. Tunggu sebentar, ` +
      "lalu tekan tombolnya lagi.",
    otpWhat: "Kode",
    resendWhat: "Permintaan kode baru",
    emailAgainTitle: "Email belum datang?",
    emailAgainHint:
      "Periksa dulu folder spam atau promosi. Jika tetap tidak ada, kami bisa mengirimnya lagi " +
      "(sekali per menit, paling banyak 5 email seluruhnya).",
    emailResend: "Kirim ulang email konfirmasi",
    emailResendQueued: (hint) =>
      `Email konfirmasi sedang dikirim lagi ke ${hint}. Periksa kotak masuk dan folder spam ` +
      "dalam beberapa menit.",
    resendTooSoon: "Permintaan sebelumnya baru saja dikirim, jadi belum bisa diminta lagi.",
    resendAgainAt: (time) => `Bisa diminta lagi sekitar pukul ${time}.`,
    // Next to the resend button, from the status answer (issue 20).
    resendsLeft: (left, limit) => `tersisa ${left} dari ${limit}`,
    wrongContactTitle: "Salah mengetik email atau nomor HP?",
    wrongContactText: (by) =>
      "Ganti di sini sebelum konfirmasi. Kami mengirim kode atau tautan baru ke kontak yang " +
      "baru, dan yang lama tidak berlaku lagi (paling banyak 3 kali, sekali per menit). Tanpa " +
      `konfirmasi, pendaftaran ini berakhir sendiri pada ${by}. Setelah kontak diganti, Anda ` +
      "punya paling sedikit 24 jam sejak penggantian untuk mengonfirmasi kontak yang baru, dan " +
      "tanggal ini ikut diundur. Butuh bantuan?",
    changePhoneLabel: "Nomor HP yang benar",
    changeEmailLabel: "Alamat email yang benar",
    changeSubmit: "Ganti kontak",
    changeWhat: "Perubahan kontak",
    changeQueued: (hint) =>
      `Permintaan diterima. Pesan konfirmasi baru sedang dikirim ke ${hint}; kode atau tautan ` +
      "yang lama tidak berlaku lagi.",
    contactChanged: {
      pending: (hint) => `Kontak sudah diganti. Pesan konfirmasi baru sedang dikirim ke ${hint}.`,
      sms: (hint) => `Kontak sudah diganti. Kami mengirim kode baru ke ${hint}.`,
      email: (hint) => `Kontak sudah diganti. Kami mengirim email konfirmasi baru ke ${hint}.`,
    },
    againTitle: "Daftar ulang",
    againText: {
      nik_not_found: "Anda dapat mendaftar ulang dengan NIK yang benar.",
      nik_data_mismatch: "Anda dapat mendaftar ulang dengan NIK yang sama.",
      contact_expired:
        "Anda dapat mendaftar ulang dengan NIK yang sama dan email atau nomor HP yang aktif.",
      contact_undeliverable:
        "Anda dapat mendaftar ulang dengan NIK yang sama dan email atau nomor HP lain.",
    },
    againKept:
      "Formulir akan terisi lagi dengan data yang Anda kirim dari browser ini, kecuali bagian " +
      "yang perlu diperbaiki.",
    againNotKept:
      "Data yang Anda kirim tidak tersimpan di browser ini, jadi formulir perlu diisi lagi.",
    againButton: "Daftar ulang sekarang",
    againForm: {
      nik_not_found:
        "Pendaftaran sebelumnya ditolak karena NIK tidak ditemukan di data kependudukan. " +
        "Ketik NIK persis seperti di KTP; isian lainnya sudah kami isi lagi.",
      nik_data_mismatch:
        "Pendaftaran sebelumnya ditolak karena nama atau tanggal lahir tidak sesuai dengan " +
        "data kependudukan. Ketik nama persis seperti di KTP dan periksa tanggal lahir; isian " +
        "lainnya sudah kami isi lagi.",
      contact_expired:
        "Pendaftaran sebelumnya berakhir karena email atau nomor HP tidak dikonfirmasi. Isi " +
        "email atau nomor HP yang aktif; isian lainnya sudah kami isi lagi.",
      contact_undeliverable:
        "Pendaftaran sebelumnya berakhir karena pesan konfirmasi tidak dapat dikirim. Isi " +
        "email atau nomor HP lain; isian lainnya sudah kami isi lagi.",
    },
    againFormEmpty:
      "Pendaftaran sebelumnya ditolak; alasannya ada di halaman status. Isi formulir ini lagi " +
      "dengan data sesuai KTP.",
    confirmTitle: "Konfirmasi email",
    confirming: "Sedang mengonfirmasi email Anda…",
    confirmMissing: "Tautan tidak lengkap. Buka tautan lengkap dari email kami.",
    confirmFailed:
      "Email belum dapat dikonfirmasi karena server tidak dapat dihubungi. Tautan masih " +
      "berlaku: muat ulang halaman ini untuk mencoba lagi.",
    newRegistration: "Kembali ke formulir",
    termsTitle: "Syarat dan ketentuan",
    terms: [
      [
        "Siapa yang boleh mendaftar",
        "Warga negara Indonesia yang memiliki NIK, berusia 18 tahun atau lebih, dan tidak " +
          "sedang sekolah atau kuliah. Satu NIK hanya dapat didaftarkan satu kali. Pendaftaran " +
          "gratis; jangan membayar siapa pun untuk mendaftar.",
      ],
      [
        "Bagaimana peserta dipilih",
        "Setiap minggu peserta diundi secara acak di antara pendaftar yang sudah terverifikasi, " +
          "menurut kuota tiap provinsi tempat tinggal. Pekerja yang dilaporkan terkena PHK oleh " +
          "dinas ketenagakerjaan, lalu yang belum menerima bantuan sosial lain, didahulukan. Waktu mendaftar tidak memengaruhi peluang. Yang " +
          "belum terpilih otomatis ikut gelombang berikutnya tanpa mendaftar ulang.",
      ],
      [
        "Data yang kami minta dan untuk apa",
        "NIK, nama, dan tanggal lahir: untuk memeriksa kelayakan dengan mencocokkannya pada " +
          "data kependudukan Direktorat Jenderal Kependudukan dan Pencatatan Sipil (Dukcapil) " +
          "Kemendagri. Email atau nomor HP: untuk memastikan kami dapat menghubungi Anda dan " +
          "mengirim hasil. Tempat tinggal, status pekerjaan, sekolah, dan bantuan sosial: untuk " +
          "kuota dan urutan prioritas. Data tidak dipakai untuk tujuan lain.",
      ],
      [
        "Dasar dan perlindungan",
        "Kami memproses data ini atas persetujuan Anda, sesuai Undang-Undang Nomor 27 Tahun 2022 " +
          "tentang Pelindungan Data Pribadi. NIK disimpan terenkripsi dan hanya ditampilkan " +
          "empat angka terakhirnya; data pribadi tidak dicatat di log sistem.",
      ],
      [
        "Hak Anda",
        "Anda berhak meminta akses, perbaikan, atau penghapusan data Anda, dan menarik " +
          "persetujuan. Ajukan melalui layanan pengaduan di bawah ini atau di posko pendaftaran " +
          "dengan membawa KTP.",
      ],
    ],
  },
  en: {
    title: "Gelombang programme registration",
    titles: {
      form: "Gelombang programme registration",
      formErrors: "Needs fixing – Gelombang programme registration",
      wait: "Not sent yet – Gelombang programme registration",
      status: "Registration status – Gelombang programme",
      otp: "SMS code – Gelombang programme",
      confirm: "Email confirmation – Gelombang programme",
      terms: "Terms and conditions – Gelombang programme",
    },
    switchTo: "Bahasa Indonesia",
    switchLabel: "Ganti ke Bahasa Indonesia",
    complaints: ["Gelombang programme complaints desk: phone ", " or email ", "."],
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
    regionsLoading: "— Loading the list… —",
    regionsFailed:
      "The list of provinces and regencies could not be loaded, and we have stopped trying " +
      "by ourselves. What you typed is kept.",
    regionsRetry: "Load the list again",
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
    consent:
      "I confirm these details are correct and accept the programme's terms, including the " +
      "check of my NIK against the civil registry (Dukcapil).",
    consentPurpose:
      "To check that you are eligible, your NIK, name and date of birth are matched against " +
      "the civil registry of the Directorate General of Population and Civil Registration " +
      "(Dukcapil), Ministry of Home Affairs. Your data is used for this programme only, under " +
      "Law No. 27 of 2022 on Personal Data Protection.",
    termsLink: "Read the terms and your rights over your data",
    submit: "Submit registration",
    sending: "Sending…",
    solvingButton: (pct) => `Getting ready to send… ${pct}%`,
    solvingText:
      "The site is busy, so this page is doing an anti-robot check before sending. It usually " +
      "takes a few seconds; keep this page open.",
    errorSummary: "Some answers need fixing:",
    errors: {
      missing: "This field is required.",
      unknown: "Something here is not right.",
      nik_format: "The NIK must be exactly 16 digits.",
      nik_province_unknown: "The province code in the NIK (first 2 digits) is not recognised.",
      nik_regency_unknown: "The regency/city code in the NIK (digits 3–4) is not recognised.",
      nik_date_invalid: "The birth date inside the NIK (digits 7–12) is not a real date.",
      nik_serial_zero: "The last four digits of the NIK cannot be 0000.",
      nik_birth_date_mismatch: "The birth date does not match the NIK. Please check both.",
      birth_date_in_future: "The birth date cannot be in the future.",
      birth_date_implausible: "The birth date is not plausible. Check the year.",
      date_invalid: "Not a valid date. Choose your date of birth as on your KTP.",
      age_under_18: "You must be at least 18 years old to register.",
      full_name_invalid: "The name may only contain letters, spaces, . , ' and -.",
      contact_required: "Enter an email address or a mobile number (at least one).",
      email_invalid: "The email address is not valid. Example: name@example.com.",
      phone_invalid: "The mobile number is not valid. Use 08xxxxxxxxxx or +628xxxxxxxxxx.",
      phone_not_mobile: "Please use a mobile number, not a landline.",
      phone_not_indonesian:
        "The mobile number must be Indonesian (+62). If you have none, enter an email instead.",
      province_unknown: "The province is not valid. Please choose one from the list.",
      regency_unknown: "The regency/city is not valid. Please choose one from the list.",
      regency_not_in_province: "The chosen regency/city is not in that province.",
      in_formal_education:
        "Sorry, this programme is not open to people currently at school or university.",
      consent_required: "You need to accept this to continue.",
      idempotency_key_conflict:
        "An earlier attempt sent different details. Press “Submit registration” again to send " +
        "the current ones.",
      idempotency_key_invalid: "The submission could not be processed. Press “Submit registration” again.",
      otp_format: "The verification code is 6 digits.",
      otp_wrong: "The verification code is wrong. Check the latest SMS you received.",
      otp_locked: "Too many wrong codes. Please request a new code.",
      otp_expired: "The verification code has expired or was not sent yet. Request a new code.",
      otp_resend_too_soon: "Please wait a moment before requesting a new code.",
      otp_resend_queued: "A new code is on its way to your phone.",
      otp_resend_limit:
        "The confirmation message has been sent again as often as one registration allows, so " +
        "nothing more will be sent. If it never arrived, the email address or phone number may " +
        "be mistyped: change it below. If it is right, check the spam folder or your phone's " +
        "signal, or contact the help desk.",
      contact_change_queued:
        "Your contact is being changed. A new confirmation message is on its way to the new " +
        "contact; the old code or link no longer works.",
      contact_change_closed:
        "The email address or phone number can no longer be changed: it is already confirmed, " +
        "or this registration has been decided.",
      contact_change_too_soon:
        "The contact was changed only just now. Please wait a moment before changing it again.",
      contact_change_limit:
        "The email address or phone number has been changed as often as one registration " +
        "allows. If it is still wrong, contact the help desk or the nearest " +
        "assisted-registration post (posko) with your ID card.",
      contact_confirmed: "Thank you, your contact is confirmed. We are now checking your NIK.",
      contact_already_confirmed:
        "Your contact was already confirmed. There is nothing more to do.",
      link_invalid:
        "This confirmation link is not valid. Make sure you opened the full link from the email.",
      link_expired: "This confirmation link has expired: the time to confirm ran out.",
      link_replaced:
        "This link is for an email address that was since replaced, so it no longer works. " +
        "Open the link in the latest confirmation email, sent to the new address.",
    },
    waitTitle: {
      busy: "The site is very busy",
      server: "Our server has a problem",
      timeout: "The server did not answer in time",
      network: "The connection dropped",
      offline: "No internet connection",
    },
    waitWhat: {
      busy:
        "Your registration has not been sent yet because a great many people are signing up " +
        "right now. We will send it again automatically.",
      nik_check_pending:
        "Another registration with this NIK is still being processed. We will send again " +
        "automatically, and you will then get a definite answer.",
      server: (code) =>
        `Our server answered with an error (code ${code}), so your registration is not ` +
        "confirmed as received. This is not your fault. We will send it again automatically.",
      timeout:
        "We got no answer from the server. We will send again automatically; if the last " +
        "attempt did get through, you are still registered only once.",
      network:
        "Your registration was not sent because the connection to the server dropped. We will " +
        "try again automatically, and as soon as the connection returns.",
      offline:
        "Your device is not connected to the internet, so the registration has not been sent. " +
        "We will send it as soon as the connection returns.",
    },
    waitWhen: (s, clock) => `Estimated wait: about ${s} seconds (next attempt at about ${clock}).`,
    waitEstimate: (s, percent) =>
      `Estimated time until your registration gets in: ${
        s >= 900 ? "more than 15 minutes" : s < 90 ? `about ${s} seconds` : `about ${Math.round(s / 60)} minutes`
      }. Right now ${percent} of every 100 attempts are turned away because it is busy; this ` +
      "estimate keeps being updated while you wait.",
    waitTries: (n, max) => `Tried ${n} times so far; we try by ourselves at most ${max} times.`,
    waitFair:
      "This is not a queue: each attempt is a fresh chance, not a place in line. Signing up " +
      "early does not improve your chances either: participants are drawn at random among " +
      "eligible registrants.",
    waitSafe:
      "Waiting is safe. What you typed is kept on this page (even if it is reloaded) and will " +
      "never be sent twice. Keep this page open so that we can send it.",
    waitStop: "Stop and go back to the form",
    gaveUp: {
      busy: (n) =>
        `The site is still busy after ${n} attempts, so we have stopped trying by ourselves. ` +
        "Your registration has not been sent; what you typed is kept on this page. Press " +
        "“Submit registration” to try again later.",
      server: (n) =>
        `Our server still has a problem after ${n} attempts, so we have stopped trying by ` +
        "ourselves. What you typed is kept on this page. Press “Submit registration” to try " +
        "again later; you will never be registered twice.",
      timeout: (n) =>
        `The server has not answered after ${n} attempts, so we have stopped trying by ` +
        "ourselves. What you typed is kept. Press “Submit registration” to try again later; " +
        "you will never be registered twice.",
      network: (n) =>
        `The connection to the server still fails after ${n} attempts, so we have stopped ` +
        "trying by ourselves. What you typed is kept. Check your connection, then press " +
        "“Submit registration”.",
      challenge: () =>
        "This page's automatic security check did not succeed, so the registration was not " +
        "sent. What you typed is kept: reload the page, then press “Submit registration” again.",
      cancelled: () =>
        "Sending stopped; your registration has not been sent. What you typed is still here: " +
        "change it if needed, then press “Submit registration”.",
    },
    tooLarge:
      "The data sent was too large for the server (code 413), so the registration was not " +
      "sent and will not be retried automatically. Check for very long answers, then press " +
      "“Submit registration” again.",
    refused: (code) =>
      `The server refused this submission (code ${code}), so the registration was not sent and ` +
      "will not be retried automatically. What you typed is kept. Reload the page and submit " +
      "again; if it still fails, contact us.",
    alreadyTitle: "This NIK is already registered",
    alreadyText:
      "You do not need to register again: the first registration still counts, and " +
      "registrants who are not selected are automatically in later waves. Open the status " +
      "link from the email or SMS you received when you first signed up.",
    alreadyTypo:
      "Also check the NIK you typed: if a digit is wrong, correct it and submit again.",
    alreadyHelp:
      "Never registered before, or lost your status link? Visit the nearest " +
      "assisted-registration post (posko) with your KTP, or contact us.",
    statusTitle: "Registration status",
    keepTitle: "Keep this status link",
    saveLink:
      "With this link you can check your status at any time. Copy it or send it to yourself " +
      "(to your notes or your own chat, say). Do not share it with others: anyone who has it " +
      "can see your status.",
    statusLinkLabel: "Your status link",
    copyLink: "Copy link",
    shareLink: "Send to another app",
    copied: "Link copied.",
    copySelected: "The link is selected. Press and hold it, then choose Copy.",
    shareTitle: "Gelombang registration status",
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
    rejectedHelp: "Questions about this decision? Contact us.",
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
    statusRetry: (t) => `The status could not be updated. We will try again at about ${t}.`,
    statusNotFound: "Status not found. Please check your status link.",
    otpTitle: "Enter the SMS code",
    otpLabel: "6-digit code from the SMS",
    otpSubmit: "Confirm code",
    otpResend: "Send a new code",
    otpOk: "Thank you, your mobile number is confirmed.",
    notSent: (what) =>
      `${what} was not sent because the connection dropped or the server has a problem. Wait a ` +
      "moment, then press the button again.",
    otpWhat: "The code",
    resendWhat: "The request for a new code",
    emailAgainTitle: "No email yet?",
    emailAgainHint:
      "First check the spam or promotions folder. If it is not there, we can send it again " +
      "(once a minute, at most 5 emails in all).",
    emailResend: "Send the confirmation email again",
    emailResendQueued: (hint) =>
      `The confirmation email is being sent again to ${hint}. Check your inbox and spam ` +
      "folder in a few minutes.",
    resendTooSoon: "The last request was sent only just now, so you cannot ask again yet.",
    resendAgainAt: (time) => `You can ask again at about ${time}.`,
    // Next to the resend button, from the status answer (issue 20).
    resendsLeft: (left, limit) => `${left} of ${limit} left`,
    wrongContactTitle: "Mistyped your email or phone number?",
    wrongContactText: (by) =>
      "Change it here before it is confirmed. We send a new code or link to the new contact, " +
      "and the old one stops working (at most 3 times, once a minute). Unconfirmed, this " +
      `registration ends by itself on ${by}. After a change you have at least 24 hours from ` +
      "the change to confirm the new contact, and this date moves with it. Need help?",
    changePhoneLabel: "The right mobile number",
    changeEmailLabel: "The right email address",
    changeSubmit: "Change contact",
    changeWhat: "The change of contact",
    changeQueued: (hint) =>
      `Request received. A new confirmation message is on its way to ${hint}; the old code ` +
      "or link no longer works.",
    contactChanged: {
      pending: (hint) => `Contact changed. A new confirmation message is on its way to ${hint}.`,
      sms: (hint) => `Contact changed. We sent a new code to ${hint}.`,
      email: (hint) => `Contact changed. We sent a new confirmation email to ${hint}.`,
    },
    againTitle: "Register again",
    againText: {
      nik_not_found: "You can register again with the correct NIK.",
      nik_data_mismatch: "You can register again with the same NIK.",
      contact_expired:
        "You can register again with the same NIK and an email or phone number you use.",
      contact_undeliverable:
        "You can register again with the same NIK and another email or phone number.",
    },
    againKept:
      "The form will be filled in again with what you sent from this browser, except the " +
      "part to correct.",
    againNotKept: "What you sent is not kept in this browser, so the form needs filling in again.",
    againButton: "Register again now",
    againForm: {
      nik_not_found:
        "Your last registration was rejected because the NIK was not found in the civil " +
        "registry. Type the NIK exactly as on your ID card; we filled in the rest again.",
      nik_data_mismatch:
        "Your last registration was rejected because the name or birth date did not match the " +
        "civil registry. Type the name exactly as on your ID card and check the birth date; " +
        "we filled in the rest again.",
      contact_expired:
        "Your last registration ended because the email or phone number was not confirmed. " +
        "Enter an email or phone number you use; we filled in the rest again.",
      contact_undeliverable:
        "Your last registration ended because the confirmation could not be delivered. Enter " +
        "another email or phone number; we filled in the rest again.",
    },
    againFormEmpty:
      "Your last registration was rejected; the reason is on its status page. Fill in this " +
      "form again as on your ID card.",
    confirmTitle: "Email confirmation",
    confirming: "Confirming your email…",
    confirmMissing: "The link is incomplete. Open the full link from our email.",
    confirmFailed:
      "Your email could not be confirmed because the server could not be reached. The link " +
      "still works: reload this page to try again.",
    newRegistration: "Back to the form",
    termsTitle: "Terms and conditions",
    terms: [
      [
        "Who can register",
        "Indonesian citizens with a NIK, aged 18 or over, not currently at school or " +
          "university. One NIK can be registered once. Registration is free; do not pay anyone " +
          "to register.",
      ],
      [
        "How participants are chosen",
        "Each week participants are drawn at random among verified registrants, within each " +
          "province's quota by place of residence. Workers reported as laid off by the labour " +
          "offices come first, then people not receiving other social aid. When you signed up does not change your chances. Those not " +
          "selected are automatically in the next wave without registering again.",
      ],
      [
        "What we ask for and why",
        "NIK, name and date of birth: to check eligibility by matching them against the civil " +
          "registry of the Directorate General of Population and Civil Registration (Dukcapil), " +
          "Ministry of Home Affairs. Email or mobile number: to make sure we can reach you and " +
          "send you the result. Residence, employment, schooling and social aid: for quotas and " +
          "priority. The data is not used for anything else.",
      ],
      [
        "Legal basis and protection",
        "We process this data with your consent, under Law No. 27 of 2022 on Personal Data " +
          "Protection. Your NIK is stored encrypted and shown only by its last four digits; " +
          "personal data is never written to system logs.",
      ],
      [
        "Your rights",
        "You may ask to see, correct or delete your data, and withdraw your consent. Ask the " +
          "complaints desk below, or at a registration post (posko) with your KTP.",
      ],
    ],
  },
};
